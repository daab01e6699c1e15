"""Resources (APIs, resource servers) tokens are issued for: RFC 8707 resource indicators."""
