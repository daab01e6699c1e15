"""RFC 6749 §4.4: a machine client gets an access token for itself."""

from __future__ import annotations

from typing import Any

from token_service.clients.models import Client
from token_service.errors import UnauthorizedClient
from token_service.grants.issuance import TokenMinter
from token_service.grants.scopes import parse_scope
from token_service.resources.targets import ResourceTargets


class ClientCredentialsGrant:
    def __init__(self, minter: TokenMinter, targets: ResourceTargets) -> None:
        self._minter = minter
        self._targets = targets

    async def __call__(self, client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> dict[str, Any]:
        if client.public:
            raise UnauthorizedClient("a public client cannot use client_credentials (RFC 6749 §4.4)")
        rules = await self._targets.rules()
        target = rules.for_client(client, params.get("resource"), parse_scope(params.get("scope")))
        return self._minter.client_token(client, scopes=target.scopes, audience=target.audience, dpop_jkt=dpop_jkt)
