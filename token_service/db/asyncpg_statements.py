"""Core statements run on the pooled asyncpg connection itself, for PostgreSQL's hottest reads and writes.

SQLAlchemy's execution layer (a Connection, the compiled cache lookup, the result proxy, the
greenlet hops of its async adapter) costs more CPU than the statement: about 80 µs per
statement over asyncpg's 30 in a tight loop, and 230 µs on a code redemption's user lookup
under the request path (measured). So the service's hottest statements are compiled from
their Core constructs once and run on the connection SQLAlchemy's pool hands out, in
autocommit (no BEGIN or COMMIT round trips; each statement stands alone).

What they give up is put back here: errors come out translated as SQLAlchemy would raise
them from `execute`, and a connection found closed is invalidated instead of returned to
the pool (the internals that takes are all in db.sqlalchemy_internals). Users: refresh
rotation (db.refresh_rotation), the user lookup (users.directory), the status entries'
batch insert (status.store).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from token_service.db import sqlalchemy_internals


def runs_on_asyncpg(engine: AsyncEngine) -> bool:
    return engine.dialect.driver == "asyncpg"


class CompiledStatement:
    """A Core statement compiled once for asyncpg: its SQL and the order of its $n parameters."""

    def __init__(self, statement: ClauseElement | str, dialect: Dialect) -> None:
        self._names: tuple[str, ...] = ()
        if isinstance(statement, str):
            self.sql = statement
            return
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self._names]


class AsyncpgConnection:
    """One pooled connection's asyncpg driver connection, with SQLAlchemy's error behaviour."""

    def __init__(self, pooled: PoolProxiedConnection, dialect: Dialect) -> None:
        self._pooled = pooled
        self._driver: Any = pooled.driver_connection  # an asyncpg.Connection, in autocommit
        self._dialect = dialect

    async def fetchrow(self, statement: CompiledStatement, params: dict[str, Any]) -> Any:
        try:
            return await self._driver.fetchrow(statement.sql, *statement.args(params))
        except Exception as error:
            raise await self._translated(error, statement.sql) from error

    async def execute(self, statement: CompiledStatement, params: dict[str, Any], *positional: Any) -> str:
        """`positional`, when given, are the $n arguments themselves (a statement written in SQL)."""
        try:
            return str(await self._driver.execute(statement.sql, *(positional or statement.args(params))))
        except Exception as error:
            raise await self._translated(error, statement.sql) from error

    async def _translated(self, error: Exception, sql: str) -> Exception:
        """`error` as SQLAlchemy raises it from a statement; a connection that closed is invalidated."""
        invalidated = bool(self._driver.is_closed())
        translated = sqlalchemy_internals.translated_error(self._pooled, self._dialect, error, sql, invalidated=invalidated)
        if invalidated:
            await sqlalchemy_internals.invalidate(self._pooled, error)
        return translated


@asynccontextmanager
async def asyncpg_connection(engine: AsyncEngine) -> AsyncIterator[AsyncpgConnection]:
    """A connection of the engine's own pool (with its idle ping), without a SQLAlchemy
    Connection around it; no transaction is ever open on it."""
    pooled = await engine.raw_connection()
    try:
        yield AsyncpgConnection(pooled, engine.dialect)
    finally:
        # Also after a cancelled statement: asyncpg finishes cancelling it before its next use.
        await sqlalchemy_internals.release(pooled)
