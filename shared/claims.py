"""The verified content of an RFC 9068 access token, as handlers receive it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AccessTokenClaims", "RFC9068_REQUIRED_CLAIMS"]

#: Claims RFC 9068 §2.2 makes mandatory in a JWT access token.
RFC9068_REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id")


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    """Claims of a token that passed every rule. Only built by the verifier."""

    sub: str
    client_id: str
    scopes: frozenset[str]
    aud: tuple[str, ...]
    iss: str
    exp: float
    iat: float
    jti: str
    raw: Mapping[str, Any]
    """Every claim as sent, including ones this class has no field for (email, auth_time...)."""

    @property
    def scope(self) -> str:
        """The scopes as an RFC 6749 §3.3 space-separated string, sorted for stable output."""
        return " ".join(sorted(self.scopes))

    @property
    def email(self) -> str | None:
        value = self.raw.get("email")
        return value if isinstance(value, str) else None

    @property
    def names_a_user(self) -> bool:
        """False for a client's own token: RFC 9068 §5 gives client_credentials tokens `sub` = `client_id`."""
        return self.sub != self.client_id

    def has_scopes(self, *scopes: str) -> bool:
        return self.scopes.issuperset(scopes)
