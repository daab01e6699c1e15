"""RFC 6749 §4.4: a machine client gets an access token for itself."""

from __future__ import annotations

import time
from typing import Any

from token_service.clients.models import Client
from token_service.errors import UnauthorizedClient
from token_service.grants.scopes import granted_scopes, parse_scope, resolve_audience
from token_service.runtime import Runtime
from token_service.tokens.access import ACCESS_TOKEN_TYP, access_token_claims, new_jti, token_type_and_binding


async def client_credentials_grant(runtime: Runtime, client: Client, params: dict[str, str], dpop_jkt: str | None) -> dict[str, Any]:
    if client.public:
        raise UnauthorizedClient("a public client cannot use client_credentials (RFC 6749 §4.4)")
    scopes = granted_scopes(client, parse_scope(params.get("scope")))
    audience = resolve_audience(client, params.get("resource"))
    settings = runtime.settings
    token_type, binding = token_type_and_binding(dpop_jkt)
    claims = access_token_claims(
        issuer=settings.issuer,
        subject=client.client_id,
        client_id=client.client_id,
        audience=audience,
        scopes=scopes,
        now=int(time.time()),
        ttl=settings.access_token_ttl,
        jti=new_jti(),
        extra=binding,
    )
    token, _kid = runtime.signer.sign(claims, ACCESS_TOKEN_TYP)
    response: dict[str, Any] = {"access_token": token, "token_type": token_type, "expires_in": settings.access_token_ttl}
    if scopes:
        response["scope"] = " ".join(sorted(scopes))
    return response
