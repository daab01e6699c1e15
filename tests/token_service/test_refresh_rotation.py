"""Refresh-token rotation on the storage layer, on SQLite and PostgreSQL: single use, the grace
window, family revocation on reuse, idle and absolute lifetimes, and what a failed build leaves.

Every rule is checked on both ways a rotation's statements can run: the fast path (asyncpg
itself on PostgreSQL, a sqlite3 connection on the event loop on SQLite) and SQLAlchemy's
own execution of the same statements, which the fast path must match."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

from tests.support.clock import FakeClock
from token_service.db.models import RefreshTokenRow, UserRow
from token_service.db import sqlite_direct
from token_service.db.refresh_rotation import _CLAIM, _CLAIM_AND_INSERT, _INSERT_SUCCESSOR, _IS_UNROTATED, _LOAD, _REVOKE_FAMILY
from token_service.errors import InvalidGrant, InvalidScope
from token_service.services import Services, build_services
from token_service.observability.metrics import TokenServiceMetrics
from token_service.runtime import Runtime, open_runtime
from token_service.settings import TokenServiceSettings
from token_service.tokens.refresh import RefreshContext, RefreshTokens

IDLE = 400
ABSOLUTE = 1000
GRACE = 10


@dataclass
class Setup:
    runtime: Runtime
    services: Services
    clock: FakeClock
    user_id: str

    @property
    def tokens(self) -> RefreshTokens:
        return self.services.refresh_tokens

    async def start(self, client_id: str = "app", scope: str = "openid notes:read", session_id_hash: str | None = None) -> str:
        _, token = await self.tokens.start_family(
            client_id=client_id, user_id=self.user_id, scope=scope, resource="https://api.example", auth_time=123, session_id_hash=session_id_hash
        )
        return token

    async def rotate(self, token: str, client_id: str = "app") -> dict[str, Any]:
        return await self.tokens.rotate(token, client_id, build)


def build(context: RefreshContext, successor: str) -> dict[str, Any]:
    return {
        "refresh_token": successor,
        "sub": context.user.id,
        "name": context.user.name,
        "scope": context.scope,
        "resource": context.resource,
        "auth_time": context.auth_time,
        "client_id": context.client_id,
    }


@pytest.fixture
def settings(make_settings: Any) -> TokenServiceSettings:
    settings: TokenServiceSettings = make_settings(refresh_token_idle_ttl=IDLE, refresh_token_ttl=ABSOLUTE, refresh_token_grace=GRACE)
    return settings


def through_sqlalchemy(tokens: RefreshTokens) -> None:
    """The rotation's statements through SQLAlchemy's execution instead of the fast path."""
    store = tokens._store
    store._asyncpg, store._sqlite = False, None


@pytest.fixture(params=["fast path", "sqlalchemy"])
async def setup(settings: TokenServiceSettings, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        services = build_services(settings, runtime, TokenServiceMetrics())
        if request.param == "sqlalchemy":
            through_sqlalchemy(services.refresh_tokens)
        user = await services.users.add_local_user("alice", "correct horse battery staple", name="Alice")
        yield Setup(runtime, services, clock, user.id)
    finally:
        await runtime.close()


async def refused(setup: Setup, token: str, message: str, client_id: str = "app") -> None:
    with pytest.raises(InvalidGrant, match=message):
        await setup.rotate(token, client_id)


async def test_rotation_carries_the_grant_and_stores_only_hashes(setup: Setup) -> None:
    token = await setup.start()
    response = await setup.rotate(token)
    assert response == {
        "refresh_token": response["refresh_token"],
        "sub": setup.user_id,
        "name": "Alice",
        "scope": "openid notes:read",
        "resource": "https://api.example",
        "auth_time": 123,
        "client_id": "app",
    }
    successor = response["refresh_token"]
    assert successor != token
    async with setup.runtime.db_sessions() as session:
        rows = {row.token_hash: row for row in (await session.execute(select(RefreshTokenRow))).scalars()}
    assert set(rows) == {hashlib.sha256(t.encode()).hexdigest() for t in (token, successor)}
    old = rows[hashlib.sha256(token.encode()).hexdigest()]
    assert old.rotated_at is not None and old.successor_ciphertext is not None
    assert successor.encode() not in old.successor_ciphertext
    new = rows[hashlib.sha256(successor.encode()).hexdigest()]
    assert new.rotated_at is None and new.successor_ciphertext is None and new.family_id == old.family_id
    assert (new.scope, new.resource) == ("openid notes:read", "https://api.example")


async def test_the_predecessor_within_the_grace_window_gets_the_same_pair(setup: Setup) -> None:
    token = await setup.start()
    first = await setup.rotate(token)
    setup.clock.advance(GRACE)
    assert await setup.rotate(token) == first
    assert (await setup.rotate(first["refresh_token"]))["refresh_token"] != first["refresh_token"]


async def test_reuse_after_the_grace_window_revokes_the_family(setup: Setup) -> None:
    token = await setup.start()
    first = await setup.rotate(token)
    setup.clock.advance(GRACE + 1)
    await refused(setup, token, "already used")
    await refused(setup, first["refresh_token"], "revoked")


async def test_reuse_once_the_successor_was_used_revokes_the_family(setup: Setup) -> None:
    token = await setup.start()
    first = await setup.rotate(token)
    second = await setup.rotate(first["refresh_token"])
    await refused(setup, token, "already used")
    await refused(setup, second["refresh_token"], "revoked")


async def test_parallel_redemptions_give_one_continuation(setup: Setup) -> None:
    token = await setup.start()
    responses = await asyncio.gather(*(setup.rotate(token) for _ in range(8)))
    assert len({r["refresh_token"] for r in responses}) == 1
    assert (await setup.rotate(responses[0]["refresh_token"]))["refresh_token"]


async def test_a_failed_build_consumes_nothing(setup: Setup) -> None:
    token = await setup.start()

    def narrowing_refused(context: RefreshContext, successor: str) -> dict[str, Any]:
        raise InvalidScope("wider")

    with pytest.raises(InvalidScope):
        await setup.tokens.rotate(token, "app", narrowing_refused)
    first = await setup.rotate(token)
    assert (await setup.rotate(first["refresh_token"]))["refresh_token"]


async def test_another_clients_token_is_refused_and_left_usable(setup: Setup) -> None:
    token = await setup.start()
    await refused(setup, token, "another client", client_id="other")
    assert await setup.rotate(token)


async def test_unknown_and_oversized_tokens_are_refused(setup: Setup) -> None:
    await refused(setup, "no-such-token", "not valid")
    await refused(setup, "x" * 201, "not valid")


async def test_idle_lifetime_expires_and_each_rotation_renews_it(setup: Setup) -> None:
    token = await setup.start()
    setup.clock.advance(IDLE - 1)
    renewed = (await setup.rotate(token))["refresh_token"]
    setup.clock.advance(IDLE - 1)
    later = (await setup.rotate(renewed))["refresh_token"]
    setup.clock.advance(IDLE)
    await refused(setup, later, "expired")


async def test_absolute_lifetime_caps_the_family(setup: Setup) -> None:
    token = await setup.start()
    for _ in range(3):
        setup.clock.advance(IDLE - 100)
        token = (await setup.rotate(token))["refresh_token"]
    # 900 s in: the new token's idle expiry (900 + 400) is capped at the family's 1000.
    usable = await setup.tokens.usable(token)
    assert usable is not None and usable.expires_at - usable.issued_at == ABSOLUTE - 3 * (IDLE - 100)
    setup.clock.advance(ABSOLUTE - 3 * (IDLE - 100))
    await refused(setup, token, "expired")


async def test_revoked_families_are_refused(setup: Setup) -> None:
    token = await setup.start()
    family = await setup.tokens.family_of(token)
    assert family is not None
    await setup.tokens.revoke_family(family.id)
    await refused(setup, token, "revoked")
    by_session = await setup.start(session_id_hash="s" * 64)
    assert await setup.tokens.revoke_sessions_families("s" * 64) == 1
    await refused(setup, by_session, "revoked")


async def test_a_deleted_users_tokens_are_refused(setup: Setup) -> None:
    token = await setup.start()
    async with setup.runtime.db_sessions() as session, session.begin():
        await session.execute(delete(UserRow).where(UserRow.id == setup.user_id))
    await refused(setup, token, "no longer exists")


def test_the_statements_run_on_asyncpg_itself_need_no_conversion_of_values() -> None:
    """On PostgreSQL they bypass SQLAlchemy's execution, so its type processing must be a no-op."""
    dialect = asyncpg_dialect()
    for statement in (_LOAD, _CLAIM_AND_INSERT, _IS_UNROTATED, _REVOKE_FAMILY):
        for bind in statement.compile(dialect=dialect).binds.values():
            assert bind.type.dialect_impl(dialect).bind_processor(dialect) is None, bind
    for column in _LOAD.selected_columns:
        assert column.type.dialect_impl(dialect).result_processor(dialect, None) is None, column


def holding_the_write_lock(setup: Setup) -> sqlite3.Connection:
    """Another connection (another process, as far as SQLite knows) in a write transaction."""
    other = sqlite3.connect(str(setup.runtime.engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_rotation_waiting_for_the_write_lock_leaves_the_event_loop_serving(setup: Setup) -> None:
    token = await setup.start()
    other = holding_the_write_lock(setup)
    rotation = asyncio.create_task(setup.rotate(token))
    longest_stall, last = 0.0, time.monotonic()
    for _ in range(20):
        await asyncio.sleep(0.005)
        now = time.monotonic()
        longest_stall, last = max(longest_stall, now - last), now
    assert not rotation.done()
    # Waiting in SQLite's busy handler on the loop would have stalled it for the whole busy
    # timeout (5 s): every other request of the worker would have waited with it.
    assert longest_stall < 1.0
    other.execute("COMMIT")
    other.close()
    assert (await rotation)["refresh_token"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("setup", ["fast path"], indirect=True)
async def test_a_write_lock_held_too_long_fails_the_rotation_as_a_lock_and_consumes_nothing(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await setup.start()
    monkeypatch.setattr(sqlite_direct, "BUSY_DEADLINE_SECONDS", 0.02)
    other = holding_the_write_lock(setup)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            await setup.rotate(token)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (await setup.rotate(token))["refresh_token"]


def test_the_statements_run_on_sqlite3_itself_need_no_conversion_but_the_one_the_rotation_makes() -> None:
    """On SQLite they bypass SQLAlchemy's execution too. The one value SQLAlchemy would convert
    is SQLite's 0/1 for email_verified, which the rotation turns into a bool itself."""
    dialect = aiosqlite_dialect()
    for statement in (_LOAD, _CLAIM, _INSERT_SUCCESSOR, _IS_UNROTATED, _REVOKE_FAMILY):
        for bind in statement.compile(dialect=dialect).binds.values():
            assert bind.type.dialect_impl(dialect).bind_processor(dialect) is None, bind
    converted = {column.name for column in _LOAD.selected_columns if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None}
    assert converted == {"email_verified"}
