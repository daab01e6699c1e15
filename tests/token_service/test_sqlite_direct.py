"""The embedded default's direct SQLite path (token_service/db/sqlite_direct.py) against
SQLAlchemy's own execution on the same database file: the same rows, the same errors, and
a failed write leaves nothing behind."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from token_service.db.asyncpg_statements import CompiledStatement
from token_service.db.models import UserRow
from token_service.db.refresh_rotation import _LOAD, RotationStore, _CoreConnection
from token_service.db.sqlite_direct import SqliteDirect
from token_service.db.write_lock import SqliteWriteLock
from token_service.runtime import Runtime, open_runtime
from token_service.settings import TokenServiceSettings
from token_service.tokens.refresh import RefreshTokens, hash_token
from token_service.users.directory import _USER_BY_ID, UserDirectory
from token_service.users.models import User

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
async def runtime(make_settings: object) -> AsyncIterator[Runtime]:
    settings: TokenServiceSettings = make_settings()  # type: ignore[operator]
    opened = await open_runtime(settings, migrate_now=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def direct(runtime: Runtime) -> SqliteDirect:
    """The engine's direct connection, beside a table `parity` holding the row id 1."""
    async with runtime.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE parity (id integer PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO parity (id) VALUES (1)"))
    direct = SqliteDirect.for_engine(runtime.engine)
    assert direct is not None
    return direct


@on_sqlite
async def test_the_direct_path_reads_the_same_rows_as_sqlalchemy(runtime: Runtime, make_settings: object) -> None:
    settings: TokenServiceSettings = make_settings()  # type: ignore[operator]
    users = UserDirectory.from_settings(runtime.db_sessions, settings, clock=runtime.clock)
    refresh_tokens = RefreshTokens.from_settings(runtime.engine, runtime.db_sessions, settings, runtime.clock)
    user = await users.add_local_user("alice", "correct horse battery staple", email="alice@example.com", name="Alice")
    await users.set_disabled(user.id, True)
    # SQLite stores a bool as 0/1; SQLAlchemy converts it, the direct path must end up the same.
    async with runtime.db_sessions.begin() as session:
        await session.execute(update(UserRow).where(UserRow.id == user.id).values(email_verified=True))
    _, token = await refresh_tokens.start_family(
        client_id="app", user_id=user.id, scope="openid", resource="https://api.example", auth_time=7, session_id_hash=None
    )

    async with runtime.engine.connect() as connection:
        core = await _CoreConnection(connection, SqliteWriteLock(None)).load(hash_token(token))
        user_row = (await connection.execute(_USER_BY_ID, {"user_id": user.id})).first()
    async with RotationStore(runtime.engine).connect() as direct:
        loaded = await direct.load(hash_token(token))
    assert core is not None and loaded is not None and user_row is not None
    assert {name: loaded[name] for name in _LOAD.selected_columns.keys()} == dict(core)

    expected = User(user.id, "alice", "Alice", "alice@example.com", True, disabled=True)
    assert await users.get(user.id) == User.from_columns(user_row._mapping) == expected
    assert await users.get("u_nobody") is None


@on_sqlite
async def test_the_direct_path_fails_as_sqlalchemy_does(runtime: Runtime, direct: SqliteDirect) -> None:

    for sql in ("SELECT no_such_column", "INSERT INTO parity (id) VALUES (1)"):
        with pytest.raises(DBAPIError) as theirs:
            async with runtime.engine.begin() as connection:
                await connection.execute(text(sql))
        statement = CompiledStatement(sql, runtime.engine.dialect)
        with pytest.raises(DBAPIError) as ours:
            if sql.startswith("INSERT"):
                await direct.write(lambda db: db.execute(sql), statement)
            else:
                await direct.fetchone(statement, {})
        assert type(ours.value) is type(theirs.value), sql
        assert type(ours.value.orig) is type(theirs.value.orig), sql
        assert ours.value.statement == theirs.value.statement == sql


@on_sqlite
async def test_a_failed_write_transaction_leaves_nothing_written(runtime: Runtime, direct: SqliteDirect) -> None:

    def two_rows_then_a_duplicate(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO parity (id) VALUES (2)")
        db.execute("INSERT INTO parity (id) VALUES (1)")

    with pytest.raises(IntegrityError):
        await direct.write(two_rows_then_a_duplicate, CompiledStatement("INSERT INTO parity (id) VALUES (?)", runtime.engine.dialect))
    async with runtime.engine.connect() as connection:
        assert (await connection.execute(text("SELECT id FROM parity ORDER BY id"))).scalars().all() == [1]
    # And the connection is usable afterwards (no transaction left open).
    await direct.write(lambda db: db.execute("INSERT INTO parity (id) VALUES (3)"), CompiledStatement("INSERT", runtime.engine.dialect))


async def test_one_direct_connection_per_engine_and_none_for_a_database_in_memory(tmp_path: Path) -> None:
    engines: list[AsyncEngine] = [create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"), create_async_engine("sqlite+aiosqlite://")]
    try:
        on_file, in_memory = engines
        assert SqliteDirect.for_engine(on_file) is SqliteDirect.for_engine(on_file) is not None
        # A second connection to ":memory:" would be another, empty database.
        assert SqliteDirect.for_engine(in_memory) is None
    finally:
        for engine in engines:
            await engine.dispose()


@on_sqlite
async def test_closing_the_runtime_closes_the_direct_connection(make_settings: object) -> None:
    settings: TokenServiceSettings = make_settings()  # type: ignore[operator]
    opened = await open_runtime(settings, migrate_now=True)
    users = UserDirectory.from_settings(opened.db_sessions, settings, clock=opened.clock)
    await users.get("u_nobody")  # opens the direct connection
    direct = SqliteDirect.for_engine(opened.engine)
    assert direct is not None and direct._db is not None
    connection = direct._db
    await opened.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connection.execute("SELECT 1")
