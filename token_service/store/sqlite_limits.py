"""Rate-limit windows in the SQLite file store, for the `limits` library's moving window.

`limits` keeps windows in memory (one process), Redis, Memcached or MongoDB; none fits
several worker processes on one host without a server, so this is a `limits` storage
on the same file as `SqliteStore`. A moving window is its hits' timestamps: a hit is
allowed when fewer than `limit` hits fall within the last `expiry` seconds, checked and
recorded in one `BEGIN IMMEDIATE` transaction so two workers cannot both take the last
slot. Every acquisition also drops a few expired hits of any key, which keeps the table
bounded by the hits inside their windows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from limits.aio.storage import MovingWindowSupport, Storage

from token_service.store.base import StoreUnavailable
from token_service.store.sqlite import open_connection, write_transaction

T = TypeVar("T")

EXPIRED_DROPS_PER_HIT = 4

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS limit_hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS limit_hits_by_key ON limit_hits (key, at)",
    "CREATE INDEX IF NOT EXISTS limit_hits_by_expiry ON limit_hits (expires)",
    # Fixed-window counters: part of the `limits` storage contract, unused by our moving windows.
    "CREATE TABLE IF NOT EXISTS limit_counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID",
)


class SqliteLimitsStorage(Storage, MovingWindowSupport):
    STORAGE_SCHEME = None

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.path = path
        # Wall-clock time, as `limits` itself uses: the window's reset is reported on it.
        self._clock = clock
        self._connection: sqlite3.Connection | None = None

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._connection is None:
                connection = open_connection(self.path)
                with write_transaction(connection):
                    for statement in SCHEMA:
                        connection.execute(statement)
                self._connection = connection
            return operation(self._connection)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the rate-limit store file {self.path} is unusable: {exc}") from None

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False

        def run(db: sqlite3.Connection) -> bool:
            now = self._clock()
            with write_transaction(db):
                db.execute(
                    "DELETE FROM limit_hits WHERE rowid IN (SELECT rowid FROM limit_hits WHERE expires <= ? ORDER BY expires LIMIT ?)",
                    (now, EXPIRED_DROPS_PER_HIT),
                )
                (count,) = db.execute("SELECT count(*) FROM limit_hits WHERE key = ? AND at >= ?", (key, now - expiry)).fetchone()
                if count + amount > limit:
                    return False
                db.executemany("INSERT INTO limit_hits (key, at, expires) VALUES (?, ?, ?)", [(key, now, now + expiry)] * amount)
                return True

        return self._run(run)

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        def run(db: sqlite3.Connection) -> tuple[float, int]:
            now = self._clock()
            oldest, count = db.execute("SELECT min(at), count(*) FROM limit_hits WHERE key = ? AND at >= ?", (key, now - expiry)).fetchone()
            return (float(oldest), int(count)) if count else (now, 0)

        return self._run(run)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        def run(db: sqlite3.Connection) -> int:
            now = self._clock()
            with write_transaction(db):
                db.execute("DELETE FROM limit_counters WHERE key = ? AND expires <= ?", (key, now))
                (count,) = db.execute(
                    "INSERT INTO limit_counters (key, count, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count RETURNING count",
                    (key, amount, now + expiry),
                ).fetchone()
                return int(count)

        return self._run(run)

    async def get(self, key: str) -> int:
        row = self._run(lambda db: db.execute("SELECT count FROM limit_counters WHERE key = ? AND expires > ?", (key, self._clock())).fetchone())
        return int(row[0]) if row is not None else 0

    async def get_expiry(self, key: str) -> float:
        row = self._run(lambda db: db.execute("SELECT expires FROM limit_counters WHERE key = ? AND expires > ?", (key, self._clock())).fetchone())
        return float(row[0]) if row is not None else self._clock()

    async def check(self) -> bool:
        try:
            self._run(lambda db: db.execute("SELECT 1").fetchone())
        except StoreUnavailable:
            return False
        return True

    async def reset(self) -> int | None:
        def run(db: sqlite3.Connection) -> int:
            with write_transaction(db):
                hits = db.execute("DELETE FROM limit_hits").rowcount
                counters = db.execute("DELETE FROM limit_counters").rowcount
            return int(hits + counters)

        return self._run(run)

    async def clear(self, key: str) -> None:
        def run(db: sqlite3.Connection) -> None:
            with write_transaction(db):
                db.execute("DELETE FROM limit_hits WHERE key = ?", (key,))
                db.execute("DELETE FROM limit_counters WHERE key = ?", (key,))

        self._run(run)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
