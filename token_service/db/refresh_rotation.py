"""The refresh-token rotation's statements, in SQLAlchemy Core, and how each backend runs them.

A rotation is the service's hottest write, so it takes the fewest round trips each backend
allows, without the ORM's unit of work: one SELECT for the token, its family and its user,
then one claim that marks the token rotated and inserts its successor atomically. Both
backends claim by compare-and-set on `rotated_at`, so the semantics are the same:

- PostgreSQL (asyncpg): the claim is one statement (a data-modifying CTE feeding the INSERT),
  so every statement stands alone in autocommit, with no BEGIN or COMMIT round trips. The
  statements are compiled from the Core constructs below once and run on the pooled asyncpg
  connection itself (db.asyncpg_statements): SQLAlchemy's execution layer costs more than
  anything else in a rotation but the signature.
- SQLite (a database file): the same statements, compiled once, on a sqlite3 connection of
  the process's own, on the event loop (db.sqlite_direct): the load is one read, and the
  claim and the insert one write transaction that starts with the claim (see db.engine on
  writing first). Through SQLAlchemy, each of those statements was several hops to
  aiosqlite's thread and back, which cost more than everything else in a rotation.
- Any other SQLite database (in memory): through SQLAlchemy Core, the same transactions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import BigInteger, FromClause, Insert, String, Table, bindparam, exists, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from token_service.db.asyncpg_statements import AsyncpgConnection, CompiledStatement, asyncpg_connection, runs_on_asyncpg
from token_service.db.models import Base, Columns
from token_service.db.sqlite_direct import SqliteDirect
from token_service.db.write_lock import SqliteWriteLock

TOKENS: Table = Base.metadata.tables["refresh_tokens"]
FAMILIES: Table = Base.metadata.tables["refresh_families"]
USERS: Table = Base.metadata.tables["users"]


LoadedRow = Columns  # a row of `_LOAD`


# Statements are built once: SQLAlchemy then finds their compiled form in its cache by key.
_LOAD = (
    select(
        TOKENS.c.family_id,
        TOKENS.c.scope,
        TOKENS.c.resource,
        TOKENS.c.expires_at,
        TOKENS.c.rotated_at,
        TOKENS.c.successor_ciphertext,
        FAMILIES.c.client_id,
        FAMILIES.c.user_id,
        FAMILIES.c.auth_time,
        FAMILIES.c.expires_at.label("family_expires_at"),
        FAMILIES.c.revoked_at,
        FAMILIES.c.dpop_jkt,
        USERS.c.id.label("found_user_id"),
        USERS.c.username,
        USERS.c.name,
        USERS.c.email,
        USERS.c.email_verified,
        USERS.c.disabled_at,
    )
    .select_from(TOKENS.join(FAMILIES, FAMILIES.c.id == TOKENS.c.family_id).outerjoin(USERS, USERS.c.id == FAMILIES.c.user_id))
    .where(TOKENS.c.token_hash == bindparam("token_hash"))
)

# Compare-and-set: only an unrotated token of a family not revoked meanwhile is claimed.
_CLAIM = (
    update(TOKENS)
    .where(
        TOKENS.c.token_hash == bindparam("claimed_hash"),
        TOKENS.c.rotated_at.is_(None),
        exists().where(FAMILIES.c.id == TOKENS.c.family_id, FAMILIES.c.revoked_at.is_(None)),
    )
    .values(rotated_at=bindparam("now", type_=BigInteger), successor_ciphertext=bindparam("sealed"))
)


def _insert_successor_of(claimed: FromClause) -> Insert:
    """The successor row: the claimed token's family, scope and resource, with its own hash and times."""
    return insert(TOKENS).from_select(
        ["token_hash", "family_id", "scope", "resource", "created_at", "expires_at"],
        select(
            bindparam("successor_hash", type_=String),
            claimed.c.family_id,
            claimed.c.scope,
            claimed.c.resource,
            bindparam("now", type_=BigInteger),
            bindparam("successor_expires_at", type_=BigInteger),
        ).where(claimed.c.token_hash == bindparam("claimed_hash")),
    )


# PostgreSQL: claim and successor in one statement; it inserts a row only if the claim won.
# PostgreSQL takes the claim's row lock, and a concurrent claim of the same token waits for
# it and then finds `rotated_at` set (READ COMMITTED re-checks the row).
_CLAIM_AND_INSERT = _insert_successor_of(
    _CLAIM.returning(TOKENS.c.token_hash, TOKENS.c.family_id, TOKENS.c.scope, TOKENS.c.resource).cte("claimed")
)

# SQLite: the claim, then the successor in the same transaction if it won.
_INSERT_SUCCESSOR = _insert_successor_of(TOKENS)

_IS_UNROTATED = select(TOKENS.c.token_hash).where(TOKENS.c.token_hash == bindparam("token_hash"), TOKENS.c.rotated_at.is_(None))

_REVOKE_FAMILY = update(FAMILIES).where(FAMILIES.c.id == bindparam("revoked_family_id")).values(revoked_at=bindparam("now", type_=BigInteger))


class RotationConnection(Protocol):
    """One pooled connection, held for one rotation."""

    async def load(self, token_hash: str) -> LoadedRow | None:
        """The token with its family's and its user's columns (the user's are None once deleted)."""

    async def claim(self, *, token_hash: str, sealed: bytes, successor_hash: str, now: int, expires_at: int) -> bool:
        """Marks the token rotated with its sealed successor response and inserts the successor,
        atomically; False when another rotation claimed it first or its family was revoked."""

    async def is_unrotated(self, token_hash: str) -> bool: ...

    async def revoke_family(self, family_id: str, now: int) -> None: ...


def _claim_params(token_hash: str, sealed: bytes, successor_hash: str, now: int, expires_at: int) -> dict[str, Any]:
    return {"claimed_hash": token_hash, "sealed": sealed, "now": now, "successor_hash": successor_hash, "successor_expires_at": expires_at}


class _CoreConnection:
    def __init__(self, connection: AsyncConnection, write_lock: SqliteWriteLock) -> None:
        self._connection = connection
        self._write_lock = write_lock

    async def load(self, token_hash: str) -> LoadedRow | None:
        row = (await self._connection.execute(_LOAD, {"token_hash": token_hash})).first()
        return None if row is None else row._mapping

    async def claim(self, *, token_hash: str, sealed: bytes, successor_hash: str, now: int, expires_at: int) -> bool:
        params = _claim_params(token_hash, sealed, successor_hash, now, expires_at)
        async with self._write_lock:
            claimed = (await self._connection.execute(_CLAIM, params)).rowcount == 1
            if claimed:
                await self._connection.execute(_INSERT_SUCCESSOR, params)
            await self._connection.commit()
        return claimed

    async def is_unrotated(self, token_hash: str) -> bool:
        return (await self._connection.execute(_IS_UNROTATED, {"token_hash": token_hash})).first() is not None

    async def revoke_family(self, family_id: str, now: int) -> None:
        async with self._write_lock:
            await self._connection.execute(_REVOKE_FAMILY, {"revoked_family_id": family_id, "now": now})
            await self._connection.commit()


class _Statements:
    """The rotation's statements compiled once, for a driver that runs them itself."""

    def __init__(self, dialect: Dialect) -> None:
        self.load = CompiledStatement(_LOAD, dialect)
        self.claim_and_insert = CompiledStatement(_CLAIM_AND_INSERT, dialect)  # PostgreSQL
        self.claim = CompiledStatement(_CLAIM, dialect)  # SQLite: these two in one transaction
        self.insert_successor = CompiledStatement(_INSERT_SUCCESSOR, dialect)
        self.is_unrotated = CompiledStatement(_IS_UNROTATED, dialect)
        self.revoke_family = CompiledStatement(_REVOKE_FAMILY, dialect)


class _AsyncpgConnection:
    def __init__(self, connection: AsyncpgConnection, statements: _Statements) -> None:
        self.driver = connection
        self._statements = statements

    async def load(self, token_hash: str) -> LoadedRow | None:
        row: LoadedRow | None = await self.driver.fetchrow(self._statements.load, {"token_hash": token_hash})
        return row

    async def claim(self, *, token_hash: str, sealed: bytes, successor_hash: str, now: int, expires_at: int) -> bool:
        status = await self.driver.execute(self._statements.claim_and_insert, _claim_params(token_hash, sealed, successor_hash, now, expires_at))
        return status == "INSERT 0 1"

    async def is_unrotated(self, token_hash: str) -> bool:
        return await self.driver.fetchrow(self._statements.is_unrotated, {"token_hash": token_hash}) is not None

    async def revoke_family(self, family_id: str, now: int) -> None:
        await self.driver.execute(self._statements.revoke_family, {"revoked_family_id": family_id, "now": now})


class _SqliteConnection:
    def __init__(self, db: SqliteDirect, statements: _Statements) -> None:
        self._db = db
        self._statements = statements

    async def load(self, token_hash: str) -> LoadedRow | None:
        row: LoadedRow | None = await self._db.fetchone(self._statements.load, {"token_hash": token_hash})
        return row

    async def claim(self, *, token_hash: str, sealed: bytes, successor_hash: str, now: int, expires_at: int) -> bool:
        params = _claim_params(token_hash, sealed, successor_hash, now, expires_at)
        claim, insert_successor = self._statements.claim, self._statements.insert_successor

        def run(db: sqlite3.Connection) -> bool:
            if db.execute(claim.sql, claim.args(params)).rowcount != 1:
                return False
            db.execute(insert_successor.sql, insert_successor.args(params))
            return True

        return await self._db.write(run, claim)

    async def is_unrotated(self, token_hash: str) -> bool:
        return await self._db.fetchone(self._statements.is_unrotated, {"token_hash": token_hash}) is not None

    async def revoke_family(self, family_id: str, now: int) -> None:
        revoke = self._statements.revoke_family
        await self._db.write(lambda db: db.execute(revoke.sql, revoke.args({"revoked_family_id": family_id, "now": now})), revoke)


class RotationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._statements = _Statements(engine.dialect)
        self._asyncpg = runs_on_asyncpg(engine)
        # SQLite has one writer at a time. Pooled connections that race for its write lock
        # wait in SQLite's busy handler, which sleeps in steps of up to 100 ms: at 8
        # concurrent refreshes that made a p99 over a second (benchmarks/token_throughput).
        # Queued instead, across this host's worker processes too (db/write_lock.py).
        self._write_lock = SqliteWriteLock(engine.url.database if engine.dialect.name == "sqlite" else None)
        self._sqlite = SqliteDirect.for_engine(engine)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[RotationConnection]:
        if self._sqlite is not None:
            yield _SqliteConnection(self._sqlite, self._statements)
            return
        if not self._asyncpg:
            async with self._engine.connect() as connection:
                yield _CoreConnection(connection, self._write_lock)
            return
        async with asyncpg_connection(self._engine) as connection:
            yield _AsyncpgConnection(connection, self._statements)
