"""How the composition root (app.py) builds the Token Status List services from the runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from token_service.runtime import Runtime
from token_service.settings import TokenServiceSettings
from token_service.status.indices import StatusIndices
from token_service.status.published import PublishedStatusLists
from token_service.status.revocations import StatusRevocations
from token_service.status.store import status_list_store
from token_service.tokens.refresh import RefreshTokens
from token_service.tokens.signer import TokenSigner


@dataclass(frozen=True)
class StatusParts:
    """Token Status List: indices for new tokens and revocations that flip their bits."""

    indices: StatusIndices
    revocations: StatusRevocations


def build_status(settings: TokenServiceSettings, runtime: Runtime, published: PublishedStatusLists) -> StatusParts | None:
    if not settings.status_list_enabled:
        return None
    store = status_list_store(runtime.db_sessions, settings)
    indices = StatusIndices(store, issuer=settings.issuer, block_size=settings.status_list_block, clock=runtime.clock, reserved=published.changed)
    revocations = StatusRevocations(store, ttl=settings.status_list_ttl, clock=runtime.clock, changed=published.reflect_revocation, pending=indices)
    return StatusParts(indices, revocations)


def revoke_client_tokens(refresh_tokens: RefreshTokens, revocations: StatusRevocations | None) -> Callable[[str], Awaitable[object]]:
    """What deleting a client's registration revokes: its refresh token families and its access tokens' status."""

    async def revoke(client_id: str) -> None:
        if revocations is not None:
            await revocations.revoke_client(client_id)
        await refresh_tokens.revoke_clients_families(client_id)

    return revoke


def published_status_lists(settings: TokenServiceSettings, runtime: Runtime) -> PublishedStatusLists:
    # Built even when new tokens get no status: lists already published stay served until they expire.
    store = status_list_store(runtime.db_sessions, settings)
    signer = TokenSigner(runtime.current_keys.current)
    return PublishedStatusLists(store, signer, issuer=settings.issuer, ttl=settings.status_list_ttl, clock=runtime.clock)
