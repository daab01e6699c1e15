"""Read-only access to this machine's token-service database for diagnostics.

Diagnostics must not change what they look at: an embedded SQLite file that does not
exist yet is reported as missing rather than created (creating it would hide the
"you are pointing at the wrong data directory" mistake).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from token_service.db.engine import create_engine, session_factory
from token_service.db.models import SigningKeyRow
from token_service.keys.keyring import KeyInfo
from token_service.settings import TokenServiceSettings


class LocalDatabaseUnavailable(Exception):
    """The database named by the settings cannot be read; the message says why."""


def embedded_file(settings: TokenServiceSettings) -> Path | None:
    """The SQLite file of the embedded default, None on any explicit database URL."""
    return settings.data_dir / "token-service.db" if settings.is_embedded else None


def describe_database(settings: TokenServiceSettings) -> str:
    """Where the database is, without the password a URL may carry."""
    path = embedded_file(settings)
    if path is not None:
        return f"embedded SQLite {path}"
    return without_credentials(settings.effective_database_url)


def without_credentials(url: str) -> str:
    """A database or Redis URL fit for output: any user and password are dropped."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


@asynccontextmanager
async def local_engine(settings: TokenServiceSettings) -> AsyncIterator[AsyncEngine]:
    path = embedded_file(settings)
    if path is not None and not path.exists():
        raise LocalDatabaseUnavailable(f"no database at {path} yet (`token-service serve` or `dev` creates it)")
    engine = create_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def unavailable(exc: BaseException, settings: TokenServiceSettings) -> LocalDatabaseUnavailable:
    first_line = (str(exc).splitlines() or [""])[0][:200]
    return LocalDatabaseUnavailable(f"cannot read {describe_database(settings)} ({type(exc).__name__}: {first_line})")


async def read_signing_keys(settings: TokenServiceSettings) -> list[KeyInfo]:
    """Every signing key row, or LocalDatabaseUnavailable."""
    try:
        async with local_engine(settings) as engine, session_factory(engine)() as session:
            rows = (await session.execute(select(SigningKeyRow))).scalars().all()
            return [KeyInfo.from_row(row) for row in rows]
    except (OSError, SQLAlchemyError) as exc:
        raise unavailable(exc, settings) from None
