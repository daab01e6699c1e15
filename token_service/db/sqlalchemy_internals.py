"""Every use of SQLAlchemy beyond its public API, in one place.

The asyncpg fast paths (`db.asyncpg_statements`: refresh rotation, the user lookup, status
entry inserts) run statements on the pooled asyncpg connection itself, and then has to do three things SQLAlchemy does inside
its execution layer: turn a driver error into the exception SQLAlchemy would raise, and
invalidate or release the pooled connection from async code. Each needs an internal:

- `AsyncAdapt_asyncpg_connection._handle_exception(error)`: the adapter's translation of an
  asyncpg error into its DBAPI exception (it always raises);
- `sqlalchemy.util.greenlet_spawn`: runs the pool's synchronous `invalidate` / `close` the
  way SQLAlchemy's own async layer does;
- `DBAPIError.instance(...)`: wraps the DBAPI exception as a statement's error.

pyproject.toml pins SQLAlchemy to `SUPPORTED` for them; `problems()` (run by
tests/token_service/test_sqlalchemy_internals.py) checks each is still there and shaped
as used, and the PostgreSQL parity test there compares the translated errors with
SQLAlchemy's own path, so an upgrade that changes one fails loudly, naming it.
"""

from __future__ import annotations

import inspect
from typing import Any

import sqlalchemy
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

__all__ = ["SUPPORTED", "invalidate", "problems", "release", "translated_error"]

SUPPORTED = (">=2.1", "<2.2")
"""The SQLAlchemy versions these internals were checked against (the pin in pyproject.toml)."""


def translated_error(pooled: PoolProxiedConnection, dialect: Dialect, error: Exception, sql: str, *, invalidated: bool) -> Exception:
    """`error`, raised by asyncpg running `sql`, as SQLAlchemy would raise it from `execute`."""
    dbapi = dialect.loaded_dbapi
    try:
        pooled.dbapi_connection._handle_exception(error)  # type: ignore[union-attr]
    except dbapi.Error as dbapi_error:
        return DBAPIError.instance(sql, None, dbapi_error, dbapi.Error, connection_invalidated=invalidated, dialect=dialect)
    except Exception as other:
        return other
    raise AssertionError("the asyncpg adapter's _handle_exception returned instead of raising")  # pragma: no cover


async def invalidate(pooled: PoolProxiedConnection, error: Exception) -> None:
    """Drop a connection found closed, so the pool never hands it out again."""
    await greenlet_spawn(pooled.invalidate, error)


async def release(pooled: PoolProxiedConnection) -> None:
    """Return a connection from `AsyncEngine.raw_connection()` to its pool."""
    await greenlet_spawn(pooled.close)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def problems() -> list[str]:
    """What no longer matches in the installed SQLAlchemy, each with what to do about it."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    found = []
    fix = (
        "token_service/db/sqlalchemy_internals.py relies on it for the asyncpg fast paths (db/asyncpg_statements.py); "
        "adapt that module (or drop the fast paths) and then update the pin in pyproject.toml"
    )
    low, high = (_version(bound.lstrip("<>=")) for bound in SUPPORTED)
    installed = _version(sqlalchemy.__version__)
    if not low <= installed < high:
        found.append(f"SQLAlchemy {sqlalchemy.__version__} is outside {', '.join(SUPPORTED)}, the range checked; {fix}")
    handle = getattr(AsyncAdapt_asyncpg_connection, "_handle_exception", None)
    if handle is None or list(inspect.signature(handle).parameters) != ["self", "error"]:
        found.append(f"AsyncAdapt_asyncpg_connection._handle_exception(self, error) is gone or changed shape; {fix}")
    if not inspect.iscoroutinefunction(greenlet_spawn):
        found.append(f"sqlalchemy.util.greenlet_spawn is no longer a coroutine function; {fix}")
    instance: Any = getattr(DBAPIError, "instance", None)
    wanted = {"statement", "params", "orig", "dbapi_base_err", "connection_invalidated", "dialect"}
    if instance is None or not wanted <= set(inspect.signature(instance).parameters):
        found.append(f"DBAPIError.instance no longer takes {', '.join(sorted(wanted))}; {fix}")
    return found
