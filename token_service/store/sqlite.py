"""SQLite file store: the ephemeral state shared by the worker processes of one host.

Without Redis, `serve` runs a worker per core; login state made by one worker must be
found by whichever worker the browser's next request lands on, so the state lives in a
SQLite file in WAL mode (readers never wait for the writer). The rules are the
in-process store's: TTLs on every record, an atomic `consume`, and a byte cap split
into budgets (`store.memory.budget_of`) so a flood of anonymous sign-ins evicts other
sign-ins and never a browser session. Within a budget the least recently written or
touched record goes first.

Statements run on the calling event loop, without a thread hop: each is one indexed
row or a handful, microseconds in WAL mode, and `busy_timeout` covers the moment
another process holds the write lock. Atomicity comes from SQLite, not from the loop:
`consume` is one `DELETE ... RETURNING`, and the read-then-write operations run inside
`BEGIN IMMEDIATE`, which takes the write lock before reading.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from token_service.store.base import StoreUnavailable
from token_service.store.memory import EXPIRY_CHECKS_PER_WRITE, MIB, SHARES, budget_of

T = TypeVar("T")

# A row's cost beyond its key and value: the row header, the expiry and use times, and its
# entries in the two indexes (which repeat the key).
ROW_OVERHEAD = 64
BUSY_TIMEOUT_MS = 5000

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, budget TEXT NOT NULL, value BLOB NOT NULL, "
    "expires REAL NOT NULL, used REAL NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS entries_by_use ON entries (budget, used)",
    "CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (budget, expires)",
    "CREATE TABLE IF NOT EXISTS budgets (name TEXT PRIMARY KEY, used INTEGER NOT NULL) WITHOUT ROWID",
    # Each budget's byte count follows its rows inside the writing transaction.
    "CREATE TRIGGER IF NOT EXISTS entries_added AFTER INSERT ON entries BEGIN "
    "UPDATE budgets SET used = used + NEW.size WHERE name = NEW.budget; END",
    "CREATE TRIGGER IF NOT EXISTS entries_removed AFTER DELETE ON entries BEGIN "
    "UPDATE budgets SET used = used - OLD.size WHERE name = OLD.budget; END",
    "CREATE TRIGGER IF NOT EXISTS entries_resized AFTER UPDATE OF size ON entries BEGIN "
    "UPDATE budgets SET used = used - OLD.size + NEW.size WHERE name = NEW.budget; END",
)


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with WAL and a busy wait."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA journal_mode=WAL")
    # Ephemeral state: a power cut may lose the last commits, never the file's integrity.
    connection.execute("PRAGMA synchronous=NORMAL")
    path.chmod(0o600)
    return connection


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ROW_OVERHEAD


class SqliteStore:
    def __init__(self, path: Path, max_bytes: int = 256 * MIB, shares: Mapping[str, float] = SHARES, *, clock: Callable[[], float] = time.time) -> None:
        # Wall-clock time: every process on the host reads the same expiry the same way.
        self._clock = clock
        self.path = path
        self.max_bytes = {name: int(max_bytes * share) for name, share in shares.items()}
        self._connection: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = open_connection(self.path)
            with write_transaction(connection):
                for statement in SCHEMA:
                    connection.execute(statement)
                connection.executemany("INSERT OR IGNORE INTO budgets (name, used) VALUES (?, 0)", [(name,) for name in self.max_bytes])
            self._connection = connection
        return self._connection

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return operation(self._db())
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the store file {self.path} is unusable: {exc}") from None

    def _live(self, db: sqlite3.Connection, key: str, now: float) -> tuple[bytes, float] | None:
        row = db.execute("SELECT value, expires FROM entries WHERE key = ? AND expires > ?", (key, now)).fetchone()
        return (bytes(row[0]), float(row[1])) if row is not None else None

    def _write(self, db: sqlite3.Connection, key: str, value: bytes, expires: float, now: float) -> None:
        """Inside a write transaction: drop a few expired records, evict to fit, upsert."""
        budget = budget_of(key)
        size, cap = _size(key, value), self.max_bytes[budget]
        if size > cap:
            raise ValueError(f"a {size}-byte record exceeds the store budget of {cap} bytes")
        db.execute(
            "DELETE FROM entries WHERE key IN (SELECT key FROM entries WHERE budget = ? AND expires <= ? ORDER BY expires LIMIT ?)",
            (budget, now, EXPIRY_CHECKS_PER_WRITE),
        )
        (used,) = db.execute("SELECT used FROM budgets WHERE name = ?", (budget,)).fetchone()
        existing = db.execute("SELECT size FROM entries WHERE key = ?", (key,)).fetchone()
        used -= existing[0] if existing is not None else 0
        while used + size > cap:
            oldest = db.execute(
                "SELECT key, size FROM entries WHERE budget = ? AND key != ? ORDER BY used LIMIT 1", (budget, key)
            ).fetchone()
            if oldest is None:
                break
            db.execute("DELETE FROM entries WHERE key = ?", (oldest[0],))
            used -= oldest[1]
        db.execute(
            "INSERT INTO entries (key, budget, value, expires, used, size) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, used = excluded.used, size = excluded.size",
            (key, budget, value, expires, now, size),
        )

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        def run(db: sqlite3.Connection) -> None:
            now = self._clock()
            with write_transaction(db):
                self._write(db, key, value, now + ttl, now)

        self._run(run)

    async def put_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            now = self._clock()
            with write_transaction(db):
                if self._live(db, key, now) is not None:
                    return False
                self._write(db, key, value, now + ttl, now)
                return True

        return self._run(run)

    async def get(self, key: str) -> bytes | None:
        live = self._run(lambda db: self._live(db, key, self._clock()))
        return live[0] if live is not None else None

    async def consume(self, key: str) -> bytes | None:
        # One statement: of concurrent callers in any process, exactly one deletes the row.
        def run(db: sqlite3.Connection) -> bytes | None:
            row = db.execute("DELETE FROM entries WHERE key = ? AND expires > ? RETURNING value", (key, self._clock())).fetchone()
            return bytes(row[0]) if row is not None else None

        return self._run(run)

    async def consume_leaving(self, key: str, marker_key: str, marker: bytes, marker_ttl: float) -> bytes | None:
        def run(db: sqlite3.Connection) -> bytes | None:
            now = self._clock()
            # One write transaction (BEGIN IMMEDIATE): no other process runs between the delete and the marker.
            with write_transaction(db):
                row = db.execute("DELETE FROM entries WHERE key = ? AND expires > ? RETURNING value", (key, now)).fetchone()
                if row is None:
                    return None
                self._write(db, marker_key, marker, now + marker_ttl, now)
                return bytes(row[0])

        return self._run(run)

    async def delete(self, key: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM entries WHERE key = ?", (key,)))

    async def touch(self, key: str, ttl: float) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            now = self._clock()
            cursor = db.execute("UPDATE entries SET expires = ?, used = ? WHERE key = ? AND expires > ?", (now + ttl, now, key, now))
            return cursor.rowcount == 1

        return self._run(run)

    async def incr(self, key: str, ttl: float) -> int:
        def run(db: sqlite3.Connection) -> int:
            now = self._clock()
            with write_transaction(db):
                live = self._live(db, key, now)
                if live is None:
                    self._write(db, key, b"1", now + ttl, now)
                    return 1
                count = int(live[0]) + 1
                # The window keeps the expiry of its first hit.
                self._write(db, key, str(count).encode(), live[1], now)
                return count

        return self._run(run)

    async def ping(self) -> bool:
        try:
            self._run(lambda db: db.execute("SELECT 1").fetchone())
        except StoreUnavailable:
            return False
        return True

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def budget_used(self, budget: str) -> int:
        """Bytes the records of one budget take, as counted for the cap."""
        row = self._run(lambda db: db.execute("SELECT used FROM budgets WHERE name = ?", (budget,)).fetchone())
        return int(row[0]) if row is not None else 0
