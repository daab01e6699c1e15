"""The status lists' SQL: index blocks, which token holds which index, revocations.

Indices are reserved a block at a time (`reserve`), under the cross-instance transition
lock, so instances never hand out the same index and a token never waits for the database
to get one. A block is usable only for `BLOCK_WINDOW` seconds after it was reserved, and
the list's `expires_at` covers every token such a block can index: a list outlives each of
its tokens, and an index is never reused (a full list is never reopened).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from token_service.db import sqlalchemy_internals
from token_service.db.asyncpg_statements import CompiledStatement, asyncpg_connection
from token_service.db.locks import lock_transitions
from token_service.db.models import StatusEntryRow, StatusFenceRow, StatusListRow
from token_service.settings import TokenServiceSettings

# A reserved block's indices are given to tokens for at most this long.
BLOCK_WINDOW = 300


@dataclass
class IndexBlock:
    list_id: str
    next: int
    end: int
    usable_until: int

    @property
    def remaining(self) -> int:
        return self.end - self.next


@dataclass(frozen=True)
class ListState:
    id: str
    size: int
    expires_at: int
    revision: int


class StatusEntry(NamedTuple):
    """The index one access token holds and what it was issued for.

    A named tuple: one is built per token, and it is already the row the drivers insert.
    """

    list_id: str
    idx: int
    jti: str
    client_id: str
    user_id: str | None
    family_id: str | None
    expires_at: int
    issued_at: int


class Fence(NamedTuple):
    """A revocation an entry written later must still honour: what it named, and when."""

    kind: str  # one of FENCE_KINDS
    subject: str
    revoked_at: int

    def covers(self, entry: StatusEntry) -> bool:
        if entry.issued_at > self.revoked_at:
            return False  # issued after the revocation: not revoked by it
        value = {"jti": entry.jti, "family": entry.family_id, "user": entry.user_id, "client": entry.client_id}[self.kind]
        return value == self.subject


FENCE_KINDS = ("jti", "family", "user", "client")


class StatusListStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, list_size: int, block_size: int, access_token_ttl: int, leeway: int) -> None:
        self._sessions = sessions
        engine = sessions.kw.get("bind")
        self._engine = engine if isinstance(engine, AsyncEngine) and engine.dialect.driver in _RECORDERS else None
        self._list_size = list_size
        self._block_size = block_size
        self._access_token_ttl = access_token_ttl
        self._leeway = leeway

    async def reserve(self, now: int, blocks: int = 1) -> IndexBlock:
        """`blocks` blocks of indices at once (fewer when the list fills up) that no other instance
        has, from the newest list with room, or a new list."""
        covers_until = now + BLOCK_WINDOW + self._access_token_ttl + self._leeway
        async with self._sessions() as session, session.begin():
            await lock_transitions(session, "status-lists", now=now)
            row = (
                await session.execute(
                    select(StatusListRow)
                    .where(StatusListRow.next_index < StatusListRow.size, StatusListRow.expires_at > now)
                    .order_by(StatusListRow.created_at.desc(), StatusListRow.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if row is None:
                row = StatusListRow(id=secrets.token_hex(8), size=self._list_size, next_index=0, created_at=now, expires_at=covers_until, revision=0)
                session.add(row)
            start = row.next_index
            end = min(start + self._block_size * blocks, row.size)
            row.next_index = end
            row.expires_at = max(row.expires_at, covers_until)
            return IndexBlock(row.id, start, end, now + BLOCK_WINDOW)

    async def record(self, entries: list[StatusEntry]) -> None:
        """One insert for every entry (the background writer's batch)."""
        if not entries:
            return
        if self._engine is not None:
            await _RECORDERS[self._engine.dialect.driver](self._engine, entries)
            return
        async with self._sessions() as session, session.begin():
            await session.execute(insert(StatusEntryRow), [entry._asdict() for entry in entries])

    async def revoke(self, condition: ColumnElement[bool], fences: list[tuple[str, str]], now: int) -> int:
        """Flips the bits of every unexpired, unrevoked entry matching `condition`; returns how many.

        The fences (kind, subject) are committed first, in their own transaction: an entry
        committed after this update ran is then checked against them by its writer
        (`revoke_fenced`), so between the two every token issued before now is caught.
        """
        if fences:
            expires_at = now + self._access_token_ttl + self._leeway  # tokens issued before now are gone by then
            async with self._sessions() as session, session.begin():
                await session.execute(
                    insert(StatusFenceRow), [{"kind": kind, "subject": subject, "revoked_at": now, "expires_at": expires_at} for kind, subject in fences]
                )
        live = (condition, StatusEntryRow.revoked_at.is_(None), StatusEntryRow.expires_at > now - self._leeway)
        async with self._sessions() as session, session.begin():
            # Writes first (SQLite: a read snapshot could not be upgraded to the write lock).
            await session.execute(
                update(StatusListRow)
                .where(StatusListRow.id.in_(select(StatusEntryRow.list_id).where(*live).distinct()))
                .values(revision=StatusListRow.revision + 1)
            )
            result = await session.execute(update(StatusEntryRow).where(*live).values(revoked_at=now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def fences_since(self, since: int) -> list[Fence]:
        """Fences of revocations at or after `since` (usually none: one indexed query)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(StatusFenceRow.kind, StatusFenceRow.subject, StatusFenceRow.revoked_at).where(StatusFenceRow.revoked_at >= since)
            )
            return [Fence(*row) for row in rows]

    async def revoke_fenced(self, entries: list[StatusEntry], now: int) -> int:
        """Flips the bits of stored `entries` that a fence covers (they were written after its revocation)."""
        if not entries:
            return 0
        fences = await self.fences_since(min(entry.issued_at for entry in entries))
        covered = [entry for entry in entries if any(fence.covers(entry) for fence in fences)]
        if not covered:
            return 0
        async with self._sessions() as session, session.begin():
            for list_id in {entry.list_id for entry in covered}:
                indices = [entry.idx for entry in covered if entry.list_id == list_id]
                for start in range(0, len(indices), 500):  # within every driver's bound-parameter limit
                    await session.execute(
                        update(StatusEntryRow)
                        .where(StatusEntryRow.list_id == list_id, StatusEntryRow.idx.in_(indices[start : start + 500]), StatusEntryRow.revoked_at.is_(None))
                        .values(revoked_at=now)
                    )
                await session.execute(update(StatusListRow).where(StatusListRow.id == list_id).values(revision=StatusListRow.revision + 1))
        return len(covered)

    async def lists(self, since: int) -> list[ListState]:
        """Every list whose tokens may still be valid after `since`."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(StatusListRow.id, StatusListRow.size, StatusListRow.expires_at, StatusListRow.revision).where(StatusListRow.expires_at > since)
            )
            return [ListState(*row) for row in rows]

    async def known(self, list_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(StatusListRow, list_id) is not None

    async def revoked_indices(self, list_id: str) -> list[int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(StatusEntryRow.idx).where(StatusEntryRow.list_id == list_id, StatusEntryRow.revoked_at.is_not(None))
            )
            return list(rows.scalars())

    async def entries(self, condition: ColumnElement[bool]) -> list[dict[str, Any]]:
        """Entries matching `condition`, for tests and diagnostics."""
        async with self._sessions() as session:
            rows = await session.execute(select(StatusEntryRow).where(condition))
            return [{"list_id": r.list_id, "idx": r.idx, "jti": r.jti, "revoked": r.revoked_at is not None} for r in rows.scalars()]

    async def purge(self, now: int) -> int:
        """Drops entries of tokens that have expired (their bits no longer matter), and spent fences."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(StatusEntryRow).where(StatusEntryRow.expires_at <= now - self._leeway))
            await session.execute(delete(StatusFenceRow).where(StatusFenceRow.expires_at <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Both drivers: the insert runs on the pooled driver connection itself (as
# db/refresh_rotation.py does, and for the same reason: it runs for every token response).
# Through a SQLAlchemy session it cost a quarter of client_credentials throughput on
# PostgreSQL (BEGIN / INSERT / COMMIT), and on SQLite the session's ORM bulk insert and its
# extra hops to aiosqlite's thread cost ~15 % (benchmarks/token_throughput.py --status-compare).
# PostgreSQL: one statement in autocommit, one round trip.
_RECORD_SQL = (
    "INSERT INTO status_entries (list_id, idx, jti, client_id, user_id, family_id, expires_at, issued_at) "
    "SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::bigint[], $8::bigint[])"
)
# SQLite: executemany opens the transaction, commit ends it: two hops to aiosqlite's thread
# (the pool's reset on return rolls back whatever a failure left open).
_RECORD_SQLITE = "INSERT INTO status_entries (list_id, idx, jti, client_id, user_id, family_id, expires_at, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


async def _record_with_asyncpg(engine: AsyncEngine, entries: list[StatusEntry]) -> None:
    columns = [list(column) for column in zip(*entries)]
    async with asyncpg_connection(engine) as connection:
        await connection.execute(CompiledStatement(_RECORD_SQL, engine.dialect), {}, *columns)


async def _record_with_aiosqlite(engine: AsyncEngine, entries: list[StatusEntry]) -> None:
    pooled = await engine.raw_connection()
    try:
        driver: Any = pooled.driver_connection
        try:
            await driver.executemany(_RECORD_SQLITE, entries)
            await driver.commit()
        except sqlite3.Error as error:
            # As SQLAlchemy raises it (OperationalError for "database is locked": a 503).
            dbapi = engine.dialect.loaded_dbapi
            raise DBAPIError.instance(_RECORD_SQLITE, None, error, dbapi.Error, dialect=engine.dialect) from error
    finally:
        await sqlalchemy_internals.release(pooled)


_RECORDERS: dict[str, Callable[[AsyncEngine, list[StatusEntry]], Awaitable[None]]] = {
    "asyncpg": _record_with_asyncpg,
    "aiosqlite": _record_with_aiosqlite,
}


def status_list_store(sessions: async_sessionmaker[AsyncSession], settings: TokenServiceSettings) -> StatusListStore:
    return StatusListStore(
        sessions,
        list_size=settings.status_list_size,
        block_size=settings.status_list_block,
        access_token_ttl=settings.access_token_ttl,
        leeway=settings.leeway,
    )
