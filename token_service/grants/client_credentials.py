"""RFC 6749 §4.4: a machine client gets an access token for itself."""

from __future__ import annotations

from typing import Any

from token_service.clients.models import Client
from token_service.errors import UnauthorizedClient
from token_service.grants.issuance import TokenMinter
from token_service.grants.scopes import granted_scopes, parse_scope, resolve_audience


class ClientCredentialsGrant:
    def __init__(self, minter: TokenMinter) -> None:
        self._minter = minter

    async def __call__(self, client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> dict[str, Any]:
        if client.public:
            raise UnauthorizedClient("a public client cannot use client_credentials (RFC 6749 §4.4)")
        scopes = granted_scopes(client, parse_scope(params.get("scope")))
        audience = resolve_audience(client, params.get("resource"))
        return self._minter.client_token(client, scopes=scopes, audience=audience, dpop_jkt=dpop_jkt)
