"""Where clients come from: the database (`clients add`) and the TOML file (`[[clients]]`).

Lookups are cached for a few seconds so the token endpoint does not query the database
per request; a change made through another process is seen within `CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cachetools import TTLCache
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clients.models import Client
from token_service.clock import Clock, epoch_seconds, system_clock
from token_service.clients.secrets import hash_client_secret, is_valid_secret_hash
from token_service.db.models import ClientRow, UserRow
from token_service.settings import ClientConfig, ConfigurationError
from token_service.users.directory import USER_ID_PREFIX

CACHE_SECONDS = 5.0
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")


class ClientExistsError(ValueError):
    pass


def config_clients(configs: Sequence[ClientConfig]) -> dict[str, Client]:
    result = {}
    for config in configs:
        secret_hash = None
        if config.client_secret is not None:
            secret_hash = hash_client_secret(config.client_secret.get_secret_value())
        elif config.client_secret_hash is not None:
            if not is_valid_secret_hash(config.client_secret_hash):
                raise ConfigurationError(
                    f"[[clients]] {config.client_id!r}: client_secret_hash must look like 'sha256$<64 hex digits>' "
                    "(as printed by `token-service clients hash-secret`)"
                )
            secret_hash = config.client_secret_hash
        result[config.client_id] = Client.from_config(config, secret_hash)
    return result


class ClientRegistry:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], configured: dict[str, Client], *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._configured = configured
        self._cache: TTLCache[str, Client | None] = TTLCache(maxsize=10_000, ttl=CACHE_SECONDS)
        self._loading: dict[str, asyncio.Future[Client | None]] = {}

    async def get(self, client_id: str) -> Client | None:
        if client_id in self._configured:
            return self._configured[client_id]
        try:
            return self._cache[client_id]
        except KeyError:
            pass
        # Single flight: when the cached entry expires under load, one query refreshes it
        # and the concurrent requests for the same client wait for that one.
        pending = self._loading.get(client_id)
        if pending is None:
            pending = asyncio.ensure_future(self._load(client_id))
            self._loading[client_id] = pending
            pending.add_done_callback(lambda _: self._loading.pop(client_id, None))
        return await asyncio.shield(pending)

    async def _load(self, client_id: str) -> Client | None:
        async with self._sessions() as session:
            row = await session.get(ClientRow, client_id)
        client = Client.from_row(row) if row is not None else None
        self._cache[client_id] = client
        return client

    async def list(self) -> list[Client]:
        async with self._sessions() as session:
            rows = (await session.execute(select(ClientRow).order_by(ClientRow.client_id))).scalars()
            stored = [Client.from_row(row) for row in rows]
        return sorted(stored + list(self._configured.values()), key=lambda c: c.client_id)

    async def _refuse_user_like(self, client_id: str) -> None:
        """A client's own tokens carry sub = client_id (RFC 9068 §5): one equal to a user's sub
        would act as that user at every resource server (RFC 9700 §4.15)."""
        if client_id.startswith(USER_ID_PREFIX):
            raise ClientExistsError(f"client_id {client_id!r} starts with {USER_ID_PREFIX!r}, which is reserved for user ids; choose another")
        async with self._sessions() as session:
            if await session.get(UserRow, client_id) is not None:
                raise ClientExistsError(f"client_id {client_id!r} is the id of a user; choose another")

    async def add(
        self,
        *,
        client_id: str,
        secret_hash: str | None,
        grant_types: Sequence[str],
        redirect_uris: Sequence[str] = (),
        post_logout_redirect_uris: Sequence[str] = (),
        scope: str = "",
        audience: str | None = None,
        resources: Sequence[str] = (),
        public: bool = False,
        first_party: bool = False,
    ) -> Client:
        if client_id in self._configured:
            raise ClientExistsError(f"client {client_id!r} is declared in the config file")
        await self._refuse_user_like(client_id)
        row = ClientRow(
            client_id=client_id,
            secret_hash=secret_hash,
            grant_types=list(grant_types),
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            scope=" ".join(scope.split()),
            audience=audience,
            resources=list(resources),
            public=public,
            first_party=first_party,
            created_at=epoch_seconds(self._clock),
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise ClientExistsError(f"client {client_id!r} already exists") from None
        self._cache.pop(client_id, None)
        return Client.from_row(row)

    async def remove(self, client_id: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(ClientRow).where(ClientRow.client_id == client_id))
        self._cache.pop(client_id, None)
        return bool(result.rowcount)  # type: ignore[attr-defined]
