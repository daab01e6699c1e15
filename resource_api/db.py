"""The database engine and session factory of the resource API."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base", "create_engine", "create_tables", "session_factory"]


class Base(DeclarativeBase):
    pass


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # SQLite creates the file but not its folder (./.resource-api/ on a fresh checkout).
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(url)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers return rows after the commit that stored them.
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    """Create missing tables; enough for this example service, which has no migrations.

    `metadata` comes from the caller, which knows the models it serves: this module sits
    below them (they import `Base` from here) and never imports them back.
    """
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
