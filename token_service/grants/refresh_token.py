"""RFC 6749 §6: a refresh token for a new access token (and a rotated refresh token)."""

from __future__ import annotations

from typing import Any

from token_service.clients.models import Client
from token_service.errors import InvalidRequest, InvalidScope, echo
from token_service.grants.issuance import TokenMinter
from token_service.grants.scopes import parse_scope, resolve_audience
from token_service.tokens.refresh import RefreshContext, RefreshTokens


class RefreshTokenGrant:
    def __init__(self, refresh_tokens: RefreshTokens, minter: TokenMinter) -> None:
        self._refresh_tokens = refresh_tokens
        self._minter = minter

    async def __call__(self, client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> dict[str, Any]:
        token = params.get("refresh_token")
        if not token:
            raise InvalidRequest("refresh_token is required")
        requested = parse_scope(params.get("scope"))

        def build(context: RefreshContext, successor: str) -> dict[str, Any]:
            original = frozenset(context.scope.split())
            # RFC 6749 §6: scopes can only narrow; the refresh token keeps the original scope.
            if requested - original:
                raise InvalidScope(f"scope {echo(' '.join(sorted(requested - original)))} was not granted to this refresh token")
            return self._minter.user_tokens(
                client=client,
                user=context.user,
                scopes=requested or original,
                audience=resolve_audience(client, context.resource),
                auth_time=context.auth_time,
                nonce=None,
                refresh_token=successor,
                dpop_jkt=dpop_jkt,
            ).response

        return await self._refresh_tokens.rotate(token, client.client_id, build, dpop_jkt=dpop_jkt)
