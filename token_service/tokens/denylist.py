"""Revoked access tokens (RFC 7009 §2.1): their `jti`s, kept until the token would expire anyway.

Shared through the database so every instance honours a revocation. Reads are cached
briefly; while the list is empty (the usual case) no per-token lookup happens at all.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clock import Clock, epoch_seconds
from token_service.db.models import RevokedAccessTokenRow

CACHE_SECONDS = 2.0


class AccessTokenDenyList:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._jtis: frozenset[str] = frozenset()
        self._loaded_at = 0.0

    async def add(self, jti: str, expires_at: int) -> None:
        async with self._sessions() as session, session.begin():
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            await session.execute(insert(RevokedAccessTokenRow).values(jti=jti, expires_at=expires_at).on_conflict_do_nothing())
        self._loaded_at = 0.0

    async def _refresh(self) -> None:
        now = epoch_seconds(self._clock)
        async with self._sessions() as session:
            rows = await session.execute(select(RevokedAccessTokenRow.jti).where(RevokedAccessTokenRow.expires_at > now))
            self._jtis = frozenset(rows.scalars())
        self._loaded_at = time.monotonic()

    async def contains(self, jti: str) -> bool:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            await self._refresh()
        return jti in self._jtis
