"""Scope parsing shared by every grant (which scopes a token carries: resources/targets.py)."""

from __future__ import annotations

from token_service.errors import InvalidScope


def parse_scope(value: str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    tokens = value.split(" ")
    for token in tokens:
        if token and not all(c == "!" or "#" <= c <= "[" or "]" <= c <= "~" for c in token):
            raise InvalidScope("scope contains a character that RFC 6749 §3.3 does not allow")
    return frozenset(t for t in tokens if t)
