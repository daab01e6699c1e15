"""Clients that register themselves: RFC 7591 dynamic registration, RFC 7592 management,
and the metadata rules shared with client ID metadata documents."""
