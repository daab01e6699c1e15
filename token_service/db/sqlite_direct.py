"""Statements run on a sqlite3 connection of this process's own, on the event loop: the
embedded default's hottest statements (refresh rotation, the user lookup of a code
redemption) without aiosqlite's thread.

Through SQLAlchemy's async engine every SQLite statement is several hops to aiosqlite's
thread and back (cursor, execute, fetch, close, commit), each a thread wake-up and an event
loop wake-up. On a 2-core VM those hops, not SQLite, were a refresh's cost: 2 750 µs of CPU
per refresh request beside the signature, in process (`benchmarks.fast_paths` prints the
two paths side by side). An indexed read or a two-row write in WAL mode takes
microseconds, so they run on the calling event loop, as the ephemeral store's statements
do (store/sqlite.py).

The loop must never wait in SQLite's busy handler, which sleeps: the connection has
`busy_timeout` 0, and a statement refused because another connection holds the write lock
is tried again after an asyncio sleep, for up to BUSY_DEADLINE_SECONDS; then it fails as
SQLAlchemy fails on "database is locked", which callers already treat as a transient
conflict. A write transaction here runs from BEGIN IMMEDIATE to COMMIT without awaiting,
so it holds the write lock for microseconds and never across another request's work.

Errors come out as SQLAlchemy raises them from `execute` (DBAPIError subclasses wrapping
the sqlite3 error), so callers handle both paths the same way.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from token_service.db.asyncpg_statements import CompiledStatement

T = TypeVar("T")

BUSY_DEADLINE_SECONDS = 5.0  # as long as the engine's own busy_timeout (db/engine.py)
FIRST_RETRY_SECONDS = 0.0002
LONGEST_RETRY_SECONDS = 0.005


def file_database(engine: AsyncEngine) -> str | None:
    """The file of a SQLite engine; None for another database or an in-memory one (which a
    second connection could not see)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return database


def _busy(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


class SqliteDirect:
    """One process's own connection to the engine's SQLite file, used from the event loop only."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteDirect | None:
        """The engine's direct connection (one per engine, shared by its users); None where there is none."""
        path = file_database(engine)
        if path is None:
            return None
        direct = _BY_ENGINE.get(engine)
        if direct is None:
            direct = _BY_ENGINE[engine] = cls(path)
        return direct

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            # Autocommit (transactions are explicit); the same pragmas as the engine's connections.
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=0")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        return self._db

    async def _unlocked(self, attempt: Callable[[], T], sql: str, params: Any) -> T:
        """`attempt()`, tried again while another connection holds the lock it needs."""
        deadline: float | None = None  # set at the first refusal: the usual call reads no clock
        pause = FIRST_RETRY_SECONDS
        while True:
            try:
                return attempt()
            except sqlite3.Error as error:
                if deadline is None:
                    deadline = time.monotonic() + BUSY_DEADLINE_SECONDS
                if not _busy(error) or time.monotonic() >= deadline:
                    raise DBAPIError.instance(sql, params, error, sqlite3.Error) from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_RETRY_SECONDS)

    async def fetchone(self, statement: CompiledStatement, params: dict[str, Any]) -> sqlite3.Row | None:
        db = self._connection()
        args = statement.args(params)
        row: sqlite3.Row | None = await self._unlocked(lambda: db.execute(statement.sql, args).fetchone(), statement.sql, args)
        return row

    async def write(self, operation: Callable[[sqlite3.Connection], T], statement: CompiledStatement) -> T:
        """`operation` in one write transaction, committed; rolled back if it raises."""
        db = self._connection()
        await self._unlocked(lambda: db.execute("BEGIN IMMEDIATE"), "BEGIN IMMEDIATE", ())
        try:
            result = operation(db)
            db.execute("COMMIT")
        except BaseException as error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise DBAPIError.instance(statement.sql, (), error, sqlite3.Error) from error
            raise
        return result

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# Dropped with its engine; the sqlite3 connection closes when the last user lets it go.
_BY_ENGINE: weakref.WeakKeyDictionary[AsyncEngine, SqliteDirect] = weakref.WeakKeyDictionary()


def close_direct_connection(engine: AsyncEngine) -> None:
    """With the engine: closes its direct connection, if it has one (a later use would open it again)."""
    direct = _BY_ENGINE.pop(engine, None)
    if direct is not None:
        direct.close()
