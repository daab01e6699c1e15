"""The asyncpg fast paths (refresh rotation, the user lookup) lean on SQLAlchemy internals (one module,
token_service/db/sqlalchemy_internals.py): an upgrade that changes one fails here, by name,
and what the fast paths read and raise matches SQLAlchemy's own path on the same database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from token_service.db import sqlalchemy_internals
from token_service.db.write_lock import SqliteWriteLock
from token_service.db.asyncpg_statements import CompiledStatement, asyncpg_connection
from token_service.db.refresh_rotation import _LOAD, RotationStore, _CoreConnection
from token_service.runtime import open_runtime
from token_service.tokens.refresh import RefreshTokens, hash_token
from token_service.users.directory import _USER_BY_ID, UserDirectory
from token_service.users.models import User


def test_the_sqlalchemy_internals_the_fast_path_uses_are_still_there() -> None:
    problems = sqlalchemy_internals.problems()
    assert not problems, "\n".join(problems)


FAILING_STATEMENTS = [
    "SELECT no_such_column",  # 42703 undefined column: ProgrammingError
    "SELECT 1 / 0",  # 22012 division by zero: DataError
    "SELECT 'x'::int",  # 22P02 invalid text representation: DataError
    "INSERT INTO parity (id) VALUES (1)",  # 23505 unique violation: IntegrityError
]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_fast_path_reads_and_fails_exactly_like_sqlalchemy(make_settings: Any) -> None:
    settings = make_settings()

    async def run() -> None:
        runtime = await open_runtime(settings, migrate_now=True)
        try:
            users = UserDirectory.from_settings(runtime.db_sessions, settings, clock=runtime.clock)
            refresh_tokens = RefreshTokens.from_settings(runtime.engine, runtime.db_sessions, settings, runtime.clock)
            user = await users.add_local_user("alice", "correct horse battery staple", name="Alice")
            _, token = await refresh_tokens.start_family(
                client_id="app", user_id=user.id, scope="openid", resource="https://api.example", auth_time=7, session_id_hash=None
            )
            token_hash = hash_token(token)
            async with runtime.engine.begin() as connection:
                await connection.execute(text("CREATE TABLE parity (id integer PRIMARY KEY)"))
                await connection.execute(text("INSERT INTO parity (id) VALUES (1)"))

            store = RotationStore(runtime.engine)
            async with runtime.engine.connect() as connection:
                core = await _CoreConnection(connection, SqliteWriteLock(None)).load(token_hash)
            async with store.connect() as fast:
                loaded = await fast.load(token_hash)
            assert core is not None and loaded is not None
            assert {name: loaded[name] for name in _LOAD.selected_columns.keys()} == dict(core)

            # The user lookup: asyncpg's record and SQLAlchemy's row make the same User.
            await users.set_disabled(user.id, True)
            async with runtime.engine.connect() as connection:
                row = (await connection.execute(_USER_BY_ID, {"user_id": user.id})).first()
            assert row is not None
            assert await users.get(user.id) == User.from_columns(row._mapping) == User(user.id, "alice", "Alice", None, False, disabled=True)
            assert await users.get("u_nobody") is None

            for sql in FAILING_STATEMENTS:
                with pytest.raises(DBAPIError) as theirs:
                    async with runtime.engine.connect() as connection:
                        await connection.execute(text(sql))
                with pytest.raises(DBAPIError) as ours:
                    async with asyncpg_connection(runtime.engine) as fast_connection:
                        await fast_connection.execute(CompiledStatement(text(sql), runtime.engine.dialect), {})
                assert type(ours.value) is type(theirs.value), sql
                assert type(ours.value.orig) is type(theirs.value.orig), sql
                assert ours.value.orig.sqlstate == theirs.value.orig.sqlstate, sql  # type: ignore[union-attr]
                assert ours.value.statement == theirs.value.statement == sql
                assert not ours.value.connection_invalidated and not theirs.value.connection_invalidated
        finally:
            await runtime.close()

    asyncio.run(run())
