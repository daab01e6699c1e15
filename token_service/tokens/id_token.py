"""OpenID Connect Core ID tokens: pure claim building (§2, §3.1.3.6, §5.4)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from token_service.users.models import User

ID_TOKEN_TYP = "JWT"


def at_hash(access_token: str) -> str:
    # §3.1.3.6: left half of the hash (SHA-256 for RS256) of the ASCII access token, base64url.
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def profile_claims(user: User, scopes: frozenset[str]) -> dict[str, Any]:
    """Claims released by scope (§5.4)."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        if user.name:
            claims["name"] = user.name
        if user.username:
            claims["preferred_username"] = user.username
    if "email" in scopes and user.email:
        claims["email"] = user.email
        claims["email_verified"] = bool(user.email_verified)
    return claims


def id_token_claims(
    *,
    issuer: str,
    user: User,
    client_id: str,
    now: int,
    ttl: int,
    auth_time: int,
    nonce: str | None,
    access_token: str | None,
    scopes: frozenset[str],
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user.id,
        "aud": client_id,
        "azp": client_id,
        "exp": now + ttl,
        "iat": now,
        "auth_time": auth_time,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = at_hash(access_token)
    claims.update(profile_claims(user, scopes))
    return claims
