"""The token response for a user: access token, ID token when `openid`, refresh token when granted."""

from __future__ import annotations

import time
from typing import Any

from token_service.clients.models import Client
from token_service.runtime import Runtime
from token_service.tokens.access import ACCESS_TOKEN_TYP, access_token_claims, new_jti, token_type_and_binding
from token_service.tokens.id_token import ID_TOKEN_TYP, id_token_claims
from token_service.users.models import User


def wants_refresh_token(client: Client, scopes: frozenset[str]) -> bool:
    # OIDC Core §11: refresh tokens for offline access are requested with `offline_access`;
    # first-party clients registered for the refresh grant get them without asking.
    return "refresh_token" in client.grant_types and ("offline_access" in scopes or client.first_party)


def user_token_response(
    runtime: Runtime,
    *,
    client: Client,
    user: User,
    scopes: frozenset[str],
    audience: str,
    auth_time: int,
    nonce: str | None,
    refresh_token: str | None,
    dpop_jkt: str | None,
) -> tuple[dict[str, Any], str, int]:
    """Returns the response body, the access token's jti and its exp."""
    settings = runtime.settings
    now = int(time.time())
    token_type, binding = token_type_and_binding(dpop_jkt)
    jti = new_jti()
    # With `openid` the token is also good at our UserInfo endpoint (RFC 9068 §3: aud may list several).
    audiences: str | list[str] = [audience, settings.endpoint("/userinfo")] if "openid" in scopes else audience
    claims = access_token_claims(
        issuer=settings.issuer,
        subject=user.id,
        client_id=client.client_id,
        audience=audiences,
        scopes=scopes,
        now=now,
        ttl=settings.access_token_ttl,
        jti=jti,
        auth_time=auth_time,
        extra=binding,
    )
    access_token, _ = runtime.signer.sign(claims, ACCESS_TOKEN_TYP)
    response: dict[str, Any] = {
        "access_token": access_token,
        "token_type": token_type,
        "expires_in": settings.access_token_ttl,
        "scope": " ".join(sorted(scopes)),
    }
    if "openid" in scopes:
        id_claims = id_token_claims(
            issuer=settings.issuer,
            user=user,
            client_id=client.client_id,
            now=now,
            ttl=settings.id_token_ttl,
            auth_time=auth_time,
            nonce=nonce,
            access_token=access_token,
            scopes=scopes,
        )
        response["id_token"], _ = runtime.signer.sign(id_claims, ID_TOKEN_TYP)
    if refresh_token is not None:
        response["refresh_token"] = refresh_token
    return response, jti, claims["exp"]
