"""RFC 9068 access-token claims: a pure function, no I/O."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

ACCESS_TOKEN_TYP = "at+jwt"


def token_type_and_binding(dpop_jkt: str | None) -> tuple[str, dict[str, Any] | None]:
    """The response's token_type and the claims binding the token (RFC 9449 §5, §6.1)."""
    if dpop_jkt is None:
        return "Bearer", None
    return "DPoP", {"cnf": {"jkt": dpop_jkt}}


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def access_token_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    audience: str | list[str],
    scopes: Iterable[str],
    now: int,
    ttl: int,
    jti: str,
    auth_time: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": now + ttl,
        "iat": now,
        "jti": jti,
        "client_id": client_id,
    }
    scope = " ".join(sorted(set(scopes)))
    if scope:
        claims["scope"] = scope
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if extra:
        claims.update(extra)
    return claims
