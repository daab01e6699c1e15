"""Where resources come from: the database (`resources add`) and the TOML file (`[[resources]]`).

A deployment has a handful of APIs, so the registry keeps all of them in one snapshot,
reloaded at most every `CACHE_SECONDS`: /authorize and /token do not query the database per
request, and a change made through another process (the CLI) is seen within that time.
From `REFRESH_AHEAD_SECONDS` on, requests keep using the snapshot while one query reloads
it in the background (the client registry explains why: clients/registry.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clock import Clock, epoch_seconds, system_clock
from token_service.db.models import ResourceRow
from token_service.resources.model import Resource, ResourceConfig

CACHE_SECONDS = 5.0
REFRESH_AHEAD_SECONDS = 3.0


class ResourceExistsError(ValueError):
    pass


def config_resources(configs: Sequence[ResourceConfig]) -> dict[str, Resource]:
    # Each entry was validated with the settings (a bad one stopped start-up with exit 2).
    return {config.identifier: Resource.from_config(config) for config in configs}


class ResourceRegistry:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], configured: dict[str, Resource], *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._configured = configured
        self._clock = clock
        self._snapshot: dict[str, Resource] | None = None
        self._loaded_at = -CACHE_SECONDS
        self._lock = asyncio.Lock()
        self._reloading: asyncio.Task[dict[str, Resource]] | None = None

    async def get(self, identifier: str) -> Resource | None:
        return (await self.snapshot()).get(identifier)

    async def snapshot(self) -> dict[str, Resource]:
        """Every resource by identifier, at most `CACHE_SECONDS` old (the TOML file's win)."""
        stored = await self._stored()
        return {**stored, **self._configured} if stored else self._configured

    async def list(self) -> list[Resource]:
        merged = {**(await self._stored(fresh=True)), **self._configured}
        return [merged[key] for key in sorted(merged)]

    async def _stored(self, *, fresh: bool = False) -> dict[str, Resource]:
        if not fresh and self._snapshot is not None:
            age = time.monotonic() - self._loaded_at
            if age < REFRESH_AHEAD_SECONDS:
                return self._snapshot
            if age < CACHE_SECONDS:
                if self._reloading is None or self._reloading.done():
                    self._reloading = asyncio.get_running_loop().create_task(self._stored(fresh=True))
                    self._reloading.add_done_callback(lambda task: None if task.cancelled() else task.exception())
                return self._snapshot
        # Single flight: when the snapshot expires under load, one query reloads it and the
        # concurrent requests wait for that one.
        async with self._lock:
            if fresh or self._snapshot is None or time.monotonic() - self._loaded_at >= CACHE_SECONDS:
                async with self._sessions() as session:
                    rows = (await session.execute(select(ResourceRow))).scalars()
                    self._snapshot = {row.identifier: Resource.from_row(row) for row in rows}
                # Monotonic, like the client registry's cache: freshness is not the service's clock time.
                self._loaded_at = time.monotonic()
            assert self._snapshot is not None
            return self._snapshot

    async def add(self, config: ResourceConfig) -> Resource:
        if config.identifier in self._configured:
            raise ResourceExistsError(f"resource {config.identifier!r} is declared in the config file")
        row = ResourceRow(
            identifier=config.identifier,
            name=config.name,
            scopes=[{"name": s.name, "description": s.description} for s in config.scopes],
            created_at=epoch_seconds(self._clock),
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise ResourceExistsError(f"resource {config.identifier!r} already exists; remove it first to change it") from None
        self._snapshot = None
        return Resource.from_row(row)

    async def remove(self, identifier: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(ResourceRow).where(ResourceRow.identifier == identifier))
        self._snapshot = None
        return bool(result.rowcount)  # type: ignore[attr-defined]
