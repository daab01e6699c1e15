"""The per-request lookups (clients, resources, CORS origins) never make a burst of requests
wait for the database once they are warm.

When a cached entry simply expired, every request arriving during the reload waited for
it, and on a saturated event loop that reload took 0.5-1 s (83 requests of one 6 s run at
64 connections waited over 150 ms on the resource snapshot). Past the refresh-ahead age a
lookup answers from memory while one query reloads; changes still arrive within the
cache's limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from token_service.clients import registry as client_registry
from token_service.clients.metadata import ClientMetadata
from token_service.clients.registry import ClientRegistry
from token_service.clients.secrets import generate_client_secret, hash_client_secret
from token_service.db.models import ClientRow, ResourceRow
from token_service.http import cors
from token_service.http.cors import AllowedOrigins
from token_service.resources import registry as resource_registry
from token_service.resources.model import ResourceConfig, ScopeConfig
from token_service.resources.registry import ResourceRegistry
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


class GatedSessions:
    """The real session factory, whose sessions open only once `gate` is set (a slow database)."""

    def __init__(self, real: Callable[[], Any]) -> None:
        self.real = real
        self.gate = asyncio.Event()
        self.gate.set()
        self.opened = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        self.opened += 1
        await self.gate.wait()
        async with self.real() as session:
            yield session


@SQLITE
def test_a_stale_client_is_answered_while_one_query_reloads_it(make_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_registry, "REFRESH_AHEAD_SECONDS", 0.05)
    asyncio.run(stale_client(make_settings()))


async def stale_client(settings: TokenServiceSettings) -> None:
    runtime = await open_runtime(settings, migrate_now=True)
    try:
        sessions = GatedSessions(runtime.db_sessions)
        clients = ClientRegistry(sessions, {})  # type: ignore[arg-type]
        secret = generate_client_secret()
        await clients.add(ClientMetadata(client_id="machine", client_name="Machine", client_secret_hash=hash_client_secret(secret), grant_types=["client_credentials"]))
        assert (await clients.find("machine")) is not None
        await asyncio.sleep(0.1)  # past the refresh-ahead age, within the cache's limit

        sessions.gate.clear()  # the database is slow now
        opened = sessions.opened
        found = await asyncio.wait_for(asyncio.gather(*(clients.find("machine") for _ in range(20))), timeout=1)
        assert all(client is not None and client.client_id == "machine" for client in found)
        assert sessions.opened == opened + 1  # one reload for the twenty requests

        # The client is removed elsewhere (the CLI, another instance): the reload sees it.
        async with runtime.db_sessions() as session, session.begin():
            await session.execute(delete(ClientRow).where(ClientRow.client_id == "machine"))
        sessions.gate.set()
        for _ in range(50):
            await asyncio.sleep(0.02)
            if await clients.find("machine") is None:
                break
        assert await clients.find("machine") is None
    finally:
        await runtime.close()


@SQLITE
def test_a_stale_resource_snapshot_is_used_while_one_query_reloads_it(make_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource_registry, "REFRESH_AHEAD_SECONDS", 0.05)
    asyncio.run(stale_resources(make_settings()))


async def stale_resources(settings: TokenServiceSettings) -> None:
    runtime = await open_runtime(settings, migrate_now=True)
    try:
        sessions = GatedSessions(runtime.db_sessions)
        resources = ResourceRegistry(sessions, {})  # type: ignore[arg-type]
        await resources.add(ResourceConfig(identifier="https://api.example.com", name="Example", scopes=[ScopeConfig(name="notes:read", description="Read notes")]))
        assert "https://api.example.com" in await resources.snapshot()
        await asyncio.sleep(0.1)

        sessions.gate.clear()
        opened = sessions.opened
        snapshots = await asyncio.wait_for(asyncio.gather(*(resources.snapshot() for _ in range(20))), timeout=1)
        assert all("https://api.example.com" in snapshot for snapshot in snapshots)
        assert sessions.opened == opened + 1

        async with runtime.db_sessions() as session, session.begin():
            await session.execute(delete(ResourceRow))
        sessions.gate.set()
        for _ in range(50):
            await asyncio.sleep(0.02)
            if "https://api.example.com" not in await resources.snapshot():
                break
        assert "https://api.example.com" not in await resources.snapshot()
    finally:
        await runtime.close()


def test_cors_origins_reload_once_and_admit_a_new_origin_without_waiting_for_the_next_round(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cors, "REFRESH_SECONDS", 0.05)
    asyncio.run(origins())


async def origins() -> None:
    known = {"https://app.example.com"}
    loads = 0
    gate = asyncio.Event()
    gate.set()

    async def load() -> frozenset[str]:
        nonlocal loads
        loads += 1
        await gate.wait()
        return frozenset(known)

    allowed = AllowedOrigins(load)
    assert await allowed.allows("https://app.example.com") and loads == 1
    await asyncio.sleep(0.1)

    gate.clear()  # a slow reload: admitted origins are answered meanwhile, with one query
    answers = await asyncio.wait_for(asyncio.gather(*(allowed.allows("https://app.example.com") for _ in range(20))), timeout=1)
    assert all(answers) and loads == 2

    known.add("https://new.example.com")  # a client registered meanwhile
    gate.set()
    await asyncio.sleep(0.1)
    # Stale again: an origin the last set does not admit waits for the rebuild instead of a refusal.
    assert await allowed.allows("https://new.example.com")
    assert not await allowed.allows("https://evil.example.com")
