"""Pooled PostgreSQL connections: one that sat idle is pinged at checkout and replaced when the
database dropped it meanwhile; one in use a moment ago is handed out without a ping."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.backends import PG_HOST, PG_PORT, PostgresDatabases
from tests.support.tcp_proxy import tcp_proxy
from token_service.db import engine as engine_module
from token_service.db.engine import create_engine

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def test_only_idle_connections_are_pinged_and_dropped_ones_replaced(
    make_settings: Any, postgres_databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = postgres_databases.create().rsplit("/", 1)[1]
    with tcp_proxy(PG_HOST, PG_PORT) as proxy:
        settings = make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}")

        async def run() -> None:
            engine = create_engine(settings)
            pings: list[Any] = []
            ping = engine.dialect.do_ping

            def counted_ping(dbapi_connection: Any) -> bool:
                pings.append(dbapi_connection)
                return ping(dbapi_connection)

            monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
            try:
                for _ in range(3):
                    async with engine.connect() as connection:
                        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
                assert pings == []  # fresh, then in use a moment ago
                proxy.cut()  # the database side of the pooled connection goes away
                proxy.restore()
                monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
                async with engine.connect() as connection:
                    assert (await connection.execute(text("SELECT 1"))).scalar() == 1
                assert len(pings) == 1
            finally:
                await engine.dispose()

        asyncio.run(run())
