"""The SQLite file store that worker processes share without Redis: one file, several
processes, the same single-use and byte-budget rules as the in-process store."""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
from pathlib import Path

import pytest
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter

from token_service.store import StoreUnavailable
from token_service.store.memory import MIB
from token_service.store.sqlite import ROW_OVERHEAD, SqliteStore
from token_service.store.sqlite_limits import SqliteLimitsStorage

CODES = 200


def session_record() -> bytes:
    return b'{"user_id":"u1","auth_time":1,"created_at":1,"upstream":"local"}'


def redeem_all(path: str, results: "multiprocessing.Queue[list[str]]") -> None:
    async def run() -> list[str]:
        store = SqliteStore(Path(path))
        won = [code for code in (f"code:{n}" for n in range(CODES)) if await store.consume(code) is not None]
        await store.close()
        return won

    results.put(asyncio.run(run()))


async def test_a_record_written_by_one_process_is_consumed_once_among_four(tmp_path: Path) -> None:
    path = tmp_path / "ephemeral.db"
    writer = SqliteStore(path)
    for number in range(CODES):
        await writer.put(f"code:{number}", b"grant", 60)
    await writer.close()
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[list[str]] = context.Queue()
    workers = [context.Process(target=redeem_all, args=(str(path), results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    won = [code for _ in workers for code in results.get(timeout=60)]
    for worker in workers:
        worker.join(30)
    assert sorted(won) == sorted(f"code:{n}" for n in range(CODES))


async def test_two_connections_see_each_others_writes_and_ttls(tmp_path: Path) -> None:
    one, other = SqliteStore(tmp_path / "e.db"), SqliteStore(tmp_path / "e.db")
    await one.put("session:abc", session_record(), 30)
    assert await other.get("session:abc") == session_record()
    assert await other.touch("session:abc", 60)
    assert await other.incr("attempts", 30) == 1 and await one.incr("attempts", 30) == 2
    assert not await one.put_if_absent("session:abc", b"other", 30)
    await one.close()
    await other.close()


async def test_a_flood_of_sign_ins_never_evicts_a_session(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "e.db", 1 * MIB)
    await store.put("session:alice", session_record(), 3600)
    for _ in range(2000):
        await store.put(f"tx:{secrets.token_urlsafe(24)}", b"x" * 1500, 600)
    assert await store.get("session:alice") == session_record()
    assert store.budget_used("logins") <= store.max_bytes["logins"]
    assert store.budget_used("sessions") > 0
    await store.close()


async def test_expired_records_are_dropped_as_new_ones_are_written(tmp_path: Path) -> None:
    now = [1000.0]
    store = SqliteStore(tmp_path / "e.db", clock=lambda: now[0])
    for number in range(50):
        await store.put(f"tx:{number}", b"x" * 100, 10)
    now[0] += 60
    for number in range(30):
        await store.put(f"tx:new-{number}", b"x" * 100, 10)
    # Each write drops two expired records: 50 old ones are gone after 25 writes.
    assert store.budget_used("logins") == sum(len(f"tx:new-{n}") + 100 + ROW_OVERHEAD for n in range(30))
    assert await store.get("tx:0") is None
    await store.close()


async def test_a_record_larger_than_its_budget_is_refused(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "e.db", 1 * MIB)
    with pytest.raises(ValueError, match="exceeds the store budget"):
        await store.put("tx:huge", b"x" * MIB, 60)
    await store.close()


async def test_an_unusable_store_file_raises_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "e.db").mkdir()
    store = SqliteStore(tmp_path / "e.db")
    assert not await store.ping()
    with pytest.raises(StoreUnavailable, match="e.db"):
        await store.get("anything")


async def test_a_moving_window_is_shared_by_two_processes_storages(tmp_path: Path) -> None:
    one = MovingWindowRateLimiter(SqliteLimitsStorage(tmp_path / "e.db"))
    other = MovingWindowRateLimiter(SqliteLimitsStorage(tmp_path / "e.db"))
    limit = parse("3/minute")
    allowed = [await limiter.hit(limit, "login-user", "alice") for limiter in (one, other, one, other)]
    assert allowed == [True, True, True, False]
    assert await one.hit(limit, "login-user", "bob")
    stats = await other.get_window_stats(limit, "login-user", "alice")
    assert stats.remaining == 0 and stats.reset_time > 0
