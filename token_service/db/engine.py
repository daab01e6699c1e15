"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine, AsyncSession

from token_service.settings import TokenServiceSettings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while a writer commits; busy_timeout makes a second
    # writer wait instead of failing with "database is locked". A transaction that reads
    # and then writes can still fail at once (a WAL read snapshot cannot be upgraded when
    # another writer committed in between), so write transactions here write first.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# A pooled connection that was in use a moment ago is alive; one that sat idle in the pool may
# have been dropped meanwhile (a database restart, a proxy's idle timeout). Only those are
# pinged at checkout: pool_pre_ping would ping on every checkout, which with asyncpg costs
# three round trips (BEGIN, a ping, ROLLBACK) per request.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.dialect

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # As pool_pre_ping does: replace this connection and every one pooled before now.
            raise exc.InvalidatePoolError(str(error)) from error

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


def create_engine(settings: TokenServiceSettings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # At most 20 connections per process, all kept once opened: an overflow connection is
    # closed when it comes back to a full pool, so under sustained load beyond the pool size
    # every few requests paid for a new connection (10 + 10 overflow: ~50 per second at 32
    # concurrent refreshes, +25 % CPU per request).
    engine = create_async_engine(url, pool_size=20, max_overflow=0)
    _ping_idle_connections(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
