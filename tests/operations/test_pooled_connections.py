"""Pooled PostgreSQL connections: one that sat idle is pinged at checkout and replaced when the
database dropped it meanwhile; one in use a moment ago is handed out without a ping."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from tests.support.backends import PG_HOST, PG_PORT, PostgresDatabases
from tests.support.tcp_proxy import tcp_proxy
from token_service.backends import is_backend_outage
from token_service.db import engine as engine_module
from token_service.db.engine import create_engine
from token_service.db.asyncpg_statements import CompiledStatement
from token_service.db.refresh_rotation import RotationStore
from token_service.keys.sealing import new_kek_text
from token_service.services import build_services
from token_service.observability.metrics import TokenServiceMetrics
from token_service.runtime import open_runtime
from token_service.tokens.refresh import RefreshContext

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


def test_a_rotation_on_a_dropped_connection_fails_as_an_outage_and_the_next_one_works(
    make_settings: Any, postgres_databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rotation's statements run on the asyncpg connection itself: a connection that died
    under it is an outage (503), is not handed out again, and other errors stay SQLAlchemy's."""
    name = postgres_databases.create().rsplit("/", 1)[1]
    with tcp_proxy(PG_HOST, PG_PORT) as proxy:
        settings = make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}", key_encryption_key=new_kek_text())

        async def run() -> None:
            runtime = await open_runtime(settings, migrate_now=True)
            services = build_services(settings, runtime, TokenServiceMetrics())
            try:
                user = await services.users.add_local_user("alice", "correct horse battery staple")
                start = services.refresh_tokens.start_family
                tokens = [(await start(client_id="app", user_id=user.id, scope="s", resource=None, auth_time=0, session_id_hash=None))[1] for _ in range(3)]
                assert await services.refresh_tokens.rotate(tokens[0], "app", build)
                proxy.cut()
                proxy.restore()
                monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)  # no ping to rescue it
                with pytest.raises(DBAPIError) as failed:
                    # The pool hands out connections oldest first: go through all it holds.
                    for token in tokens[1:] * runtime.engine.pool.size():  # type: ignore[attr-defined]
                        await services.refresh_tokens.rotate(token, "app", build)
                assert failed.value.connection_invalidated and is_backend_outage(failed.value)
                assert await services.refresh_tokens.rotate(tokens[1], "app", build)
                with pytest.raises(ProgrammingError) as wrong:  # an error of the statement, not the connection
                    async with RotationStore(runtime.engine).connect() as connection:
                        await connection.driver.fetchrow(CompiledStatement(text("SELECT no_such_column"), runtime.engine.dialect), {})  # type: ignore[attr-defined]
                assert not wrong.value.connection_invalidated and not is_backend_outage(wrong.value)
                assert wrong.value.orig.sqlstate == "42703"  # type: ignore[union-attr]
                assert await services.refresh_tokens.rotate(tokens[2], "app", build)
            finally:
                await runtime.close()

        asyncio.run(run())


def build(context: RefreshContext, successor: str) -> dict[str, Any]:
    return {"refresh_token": successor}


def test_a_rotation_cancelled_mid_statement_leaves_the_token_and_the_pool_usable(make_settings: Any) -> None:
    settings = make_settings(key_encryption_key=new_kek_text())

    async def run() -> None:
        runtime = await open_runtime(settings, migrate_now=True)
        services = build_services(settings, runtime, TokenServiceMetrics())
        try:
            user = await services.users.add_local_user("alice", "correct horse battery staple")
            _, token = await services.refresh_tokens.start_family(client_id="app", user_id=user.id, scope="s", resource=None, auth_time=0, session_id_hash=None)
            async with runtime.engine.connect() as locker:
                # Hold the token's row lock so the rotation's claim waits on it, then give up.
                await locker.execute(text("SELECT 1 FROM refresh_tokens FOR UPDATE"))
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(services.refresh_tokens.rotate(token, "app", build), 0.5)
                await locker.rollback()
            first = await services.refresh_tokens.rotate(token, "app", build)
            assert await services.refresh_tokens.rotate(first["refresh_token"], "app", build)
        finally:
            await runtime.close()

    asyncio.run(run())
