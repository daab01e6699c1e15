"""RFC 6749 §6: a refresh token for a new access token (and a rotated refresh token)."""

from __future__ import annotations

from typing import Any

from token_service.clients.models import Client
from token_service.errors import InvalidRequest, InvalidScope, echo
from token_service.grants.issuance import TokenMinter
from token_service.grants.scopes import parse_scope
from token_service.resources.targets import ResourceTargets, split_resources
from token_service.tokens.refresh import RefreshContext, RefreshTokens


class RefreshTokenGrant:
    def __init__(self, refresh_tokens: RefreshTokens, minter: TokenMinter, targets: ResourceTargets) -> None:
        self._refresh_tokens = refresh_tokens
        self._minter = minter
        self._targets = targets

    async def __call__(self, client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> dict[str, Any]:
        token = params.get("refresh_token")
        if not token:
            raise InvalidRequest("refresh_token is required")
        requested = parse_scope(params.get("scope"))
        # Taken before the rotation: `build` runs while it holds its connection (no I/O there).
        rules = await self._targets.rules()

        def build(context: RefreshContext, successor: str) -> dict[str, Any]:
            original = frozenset(context.scope.split())
            # RFC 6749 §6: scopes can only narrow; the refresh token keeps the original scope.
            if requested - original:
                raise InvalidScope(f"scope {echo(' '.join(sorted(requested - original)))} was not granted to this refresh token")
            # RFC 8707 §2.2: `resource` may narrow the new access token to one authorized resource;
            # the refresh token keeps them all.
            target = rules.for_token(client, split_resources(context.resource), params.get("resource"), requested or original)
            return self._minter.user_tokens(
                client=client,
                user=context.user,
                scopes=target.scopes,
                audience=target.audience,
                auth_time=context.auth_time,
                nonce=None,
                refresh_token=successor,
                dpop_jkt=dpop_jkt,
                family_id=context.family_id,
            ).response

        return await self._refresh_tokens.rotate(token, client.client_id, build, dpop_jkt=dpop_jkt)
