"""Where clients come from: the database (`clients add`) and the TOML file (`[[clients]]`).

Lookups are cached for a few seconds so the token endpoint does not query the database
per request; a change made through another process is seen within `CACHE_SECONDS`.

An entry older than `REFRESH_AHEAD_SECONDS` is still answered from memory while one query
reloads it in the background. Letting it expire first made every request for that client
wait for the query, and on a saturated event loop each await of a query waits a turn of
every running request (measured on the resource registry's snapshot, cached the same way:
83 requests of one 6 s run at 64 connections on one worker waited over 150 ms for it).
The hard limit stays `CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clients.metadata import ClientMetadata, InvalidClientMetadata
from token_service.clients.documents import ClientDocumentRefused, ClientDocuments, is_document_url
from token_service.clients.models import Client
from token_service.clients.secrets import hash_client_secret
from token_service.clock import Clock, epoch_seconds, system_clock
from token_service.db.models import ClientRow, UserRow
from token_service.users.directory import USER_ID_PREFIX

CACHE_SECONDS = 5.0
REFRESH_AHEAD_SECONDS = 3.0
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")


class ClientExistsError(ValueError):
    pass


def secret_hash_of(metadata: ClientMetadata) -> str | None:
    if metadata.client_secret is not None:
        return hash_client_secret(metadata.client_secret.get_secret_value())
    return metadata.client_secret_hash


def stored_fields(metadata: ClientMetadata) -> dict[str, Any]:
    """The columns of a client row that its metadata decides."""
    return {
        "secret_hash": secret_hash_of(metadata),
        "grant_types": list(metadata.grant_types),
        "redirect_uris": list(metadata.redirect_uris),
        "post_logout_redirect_uris": list(metadata.post_logout_redirect_uris),
        "scope": metadata.scope,
        "audience": metadata.audience,
        "resources": list(metadata.resources),
        "public": bool(metadata.public),
        "first_party": metadata.first_party,
        "token_endpoint_auth_method": metadata.auth_method,
        "response_types": list(metadata.response_types or []),
        "jwks": metadata.jwks,
        "jwks_uri": metadata.jwks_uri,
        "client_name": metadata.client_name,
        "dpop_bound_access_tokens": metadata.dpop_bound_access_tokens,
    }


@dataclass(frozen=True)
class Registration:
    """How a dynamically registered client came to be (RFC 7591): its RFC 7592 token's hash,
    and whether it registered without an initial access token (open registration)."""

    token_hash: str
    openly: bool


def config_clients(configs: Sequence[ClientMetadata]) -> dict[str, Client]:
    # Each entry was validated with the settings (a bad one stopped start-up with exit 2).
    return {config.client_id: Client.from_metadata(config, secret_hash_of(config)) for config in configs}


class ClientRegistry:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        configured: dict[str, Client],
        *,
        allow_private_urls: bool = False,
        clock: Clock = system_clock,
        documents: ClientDocuments | None = None,
        unused_open_ttl: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._documents = documents
        self._unused_open_ttl = unused_open_ttl
        self._allow_private_urls = allow_private_urls
        self._clock = clock
        self._configured = configured
        # client_id -> (client or None for unknown, monotonic time loaded)
        self._cache: TTLCache[str, tuple[Client | None, float]] = TTLCache(maxsize=10_000, ttl=CACHE_SECONDS)
        self._loading: dict[str, asyncio.Future[Client | None]] = {}

    async def get(self, client_id: str) -> Client | None:
        """The client, or None: unknown, expired, or a metadata document that was refused."""
        try:
            return await self.find(client_id)
        except ClientDocumentRefused:
            return None

    async def find(self, client_id: str) -> Client | None:
        """As `get`, but a client ID metadata document that cannot be used raises
        ClientDocumentRefused with the reason (for /authorize and /token to show)."""
        if self._documents is not None and is_document_url(client_id):
            return await self._documents.client(client_id)
        if client_id in self._configured:
            return self._configured[client_id]
        cached = self._cache.get(client_id)
        if cached is not None:
            client, loaded_at = cached
            if time.monotonic() - loaded_at >= REFRESH_AHEAD_SECONDS:
                self._loading_of(client_id)  # reloaded in the background; this request goes on
            return client
        return await asyncio.shield(self._loading_of(client_id))

    def _loading_of(self, client_id: str) -> asyncio.Future[Client | None]:
        """The one query loading `client_id` (single flight: concurrent requests share it)."""
        pending = self._loading.get(client_id)
        if pending is None:
            pending = asyncio.ensure_future(self._load(client_id))
            self._loading[client_id] = pending

            def done(task: asyncio.Future[Client | None]) -> None:
                self._loading.pop(client_id, None)
                if not task.cancelled():
                    task.exception()  # retrieved: a failed background reload is retried by the next request

            pending.add_done_callback(done)
        return pending

    async def _load(self, client_id: str) -> Client | None:
        async with self._sessions() as session:
            row = await session.get(ClientRow, client_id)
        client = Client.from_row(row) if row is not None else None
        if client is not None and self._expired(client):
            client = None
        self._cache[client_id] = (client, time.monotonic())
        return client

    def _expired(self, client: Client) -> bool:
        """An open registration that never obtained a token within the TTL is gone."""
        if self._unused_open_ttl is None or not client.registered_openly or client.last_used_at is not None:
            return False
        return (client.created_at or 0) + self._unused_open_ttl <= epoch_seconds(self._clock)

    async def remove_unused_open_registrations(self) -> int:
        """Deletes the open registrations that never obtained a token within the TTL."""
        if self._unused_open_ttl is None:
            return 0
        cutoff = epoch_seconds(self._clock) - self._unused_open_ttl
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ClientRow).where(ClientRow.registered_openly.is_(True), ClientRow.last_used_at.is_(None), ClientRow.created_at <= cutoff)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def note_token_issued(self, client: Client) -> None:
        """Records a dynamic client's first token: from then on it is in use and never expires."""
        if client.source != "dynamic" or client.last_used_at is not None:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ClientRow)
                .where(ClientRow.client_id == client.client_id, ClientRow.last_used_at.is_(None))
                .values(last_used_at=epoch_seconds(self._clock))
            )
        self._cache.pop(client.client_id, None)

    def document_origins(self) -> frozenset[str]:
        """Origins of the client ID metadata document clients seen lately (they are not stored)."""
        return self._documents.origins() if self._documents is not None else frozenset()

    async def list(self) -> list[Client]:
        async with self._sessions() as session:
            rows = (await session.execute(select(ClientRow).order_by(ClientRow.client_id))).scalars()
            stored = [client for row in rows if not self._expired(client := Client.from_row(row))]
        return sorted(stored + list(self._configured.values()), key=lambda c: c.client_id)

    async def _refuse_user_like(self, client_id: str) -> None:
        """A client's own tokens carry sub = client_id (RFC 9068 §5): one equal to a user's sub
        would act as that user at every resource server (RFC 9700 §4.15)."""
        if client_id.startswith(USER_ID_PREFIX):
            raise ClientExistsError(f"client_id {client_id!r} starts with {USER_ID_PREFIX!r}, which is reserved for user ids; choose another")
        async with self._sessions() as session:
            if await session.get(UserRow, client_id) is not None:
                raise ClientExistsError(f"client_id {client_id!r} is the id of a user; choose another")

    async def add(self, metadata: ClientMetadata, registration: Registration | None = None) -> Client:
        """Store a validated registration; the plain secret, if any, is stored only as its hash."""
        problem = metadata.jwks_uri_problem(allow_private=self._allow_private_urls)
        if problem is not None:
            raise InvalidClientMetadata([problem])
        client_id = metadata.client_id
        if client_id in self._configured:
            raise ClientExistsError(f"client {client_id!r} is declared in the config file")
        if is_document_url(client_id):
            # Such an id names the client's own metadata document (draft-ietf-oauth-client-id-metadata-document).
            raise ClientExistsError(f"client_id {client_id!r} is a URL, which names a client ID metadata document; choose an id that is not a URL")
        await self._refuse_user_like(client_id)
        row = ClientRow(client_id=client_id, created_at=epoch_seconds(self._clock), **stored_fields(metadata))
        if registration is not None:
            row.origin = "dynamic"
            row.registration_token_hash = registration.token_hash
            row.registered_openly = registration.openly
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise ClientExistsError(f"client {client_id!r} already exists") from None
        self._cache.pop(client_id, None)
        return Client.from_row(row)

    async def update(self, metadata: ClientMetadata) -> Client | None:
        """RFC 7592 §2.2: the stored metadata replaced by `metadata` (origin, token and times kept)."""
        problem = metadata.jwks_uri_problem(allow_private=self._allow_private_urls)
        if problem is not None:
            raise InvalidClientMetadata([problem])
        async with self._sessions() as session, session.begin():
            row = await session.get(ClientRow, metadata.client_id, with_for_update=True)
            if row is None:
                return None
            for name, value in stored_fields(metadata).items():
                setattr(row, name, value)
        self._cache.pop(metadata.client_id, None)
        return Client.from_row(row)

    async def remove(self, client_id: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(ClientRow).where(ClientRow.client_id == client_id))
        self._cache.pop(client_id, None)
        return bool(result.rowcount)  # type: ignore[attr-defined]
