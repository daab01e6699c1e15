"""The ephemeral store contract, on the in-process store, the SQLite file store and Redis (mandatory under CI=true)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.backends import REDIS_URL, delete_redis_prefix, redis_prefix, require_service
from token_service.store import EphemeralStore, StoreUnavailable
from token_service.store.memory import MemoryStore
from token_service.store.redis import RedisStore
from token_service.store.sqlite import SqliteStore


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EphemeralStore]:
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    if request.param == "sqlite":
        file_store = SqliteStore(tmp_path / "ephemeral.db")
        yield file_store
        await file_store.close()
        return
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    redis_store = RedisStore(REDIS_URL, prefix)
    try:
        yield redis_store
    finally:
        await redis_store.close()
        delete_redis_prefix(prefix)


async def test_put_get_and_delete(store: EphemeralStore) -> None:
    await store.put("k", b"value", 30)
    assert await store.get("k") == b"value"
    await store.delete("k")
    assert await store.get("k") is None


async def test_values_expire_after_their_ttl(store: EphemeralStore) -> None:
    await store.put("short", b"x", 0.2)
    assert await store.get("short") == b"x"
    await asyncio.sleep(0.4)
    assert await store.get("short") is None


async def test_consume_returns_the_value_exactly_once(store: EphemeralStore) -> None:
    await store.put("code", b"grant", 30)
    assert await store.consume("code") == b"grant"
    assert await store.consume("code") is None
    assert await store.get("code") is None


async def test_concurrent_consumers_get_the_value_once(store: EphemeralStore) -> None:
    await store.put("code", b"grant", 30)
    results = await asyncio.gather(*(store.consume("code") for _ in range(50)))
    assert results.count(b"grant") == 1
    assert results.count(None) == 49


async def test_put_if_absent_keeps_the_first_value(store: EphemeralStore) -> None:
    assert await store.put_if_absent("once", b"first", 30)
    assert not await store.put_if_absent("once", b"second", 30)
    assert await store.get("once") == b"first"


async def test_touch_extends_the_ttl_of_live_keys_only(store: EphemeralStore) -> None:
    await store.put("session", b"s", 0.3)
    assert await store.touch("session", 5)
    await asyncio.sleep(0.5)
    assert await store.get("session") == b"s"
    assert not await store.touch("missing", 5)


async def test_incr_counts_within_a_window(store: EphemeralStore) -> None:
    assert [await store.incr("attempts", 0.3) for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(0.5)
    assert await store.incr("attempts", 0.3) == 1


async def test_ping(store: EphemeralStore) -> None:
    assert await store.ping()


async def test_unreachable_redis_raises_store_unavailable() -> None:
    unreachable = RedisStore("redis://127.0.0.1:1/0", "nowhere:")
    try:
        assert not await unreachable.ping()
        with pytest.raises(StoreUnavailable):
            await unreachable.get("anything")
    finally:
        await unreachable.close()


async def test_consume_leaving_puts_the_marker_in_the_same_step(store: EphemeralStore) -> None:
    await store.put("code:a", b"grant", 30)
    assert await store.consume_leaving("code:a", "code-used:a", b"produced", 30) == b"grant"
    assert await store.get("code:a") is None
    assert await store.get("code-used:a") == b"produced"
    # A second redemption gets nothing and leaves the first one's marker as it was.
    assert await store.consume_leaving("code:a", "code-used:a", b"other", 30) is None
    assert await store.get("code-used:a") == b"produced"


async def test_consume_leaving_leaves_no_marker_for_an_unknown_key(store: EphemeralStore) -> None:
    # A guessed or expired code must not make the store keep anything.
    assert await store.consume_leaving("code:guessed", "code-used:guessed", b"produced", 30) is None
    assert await store.get("code-used:guessed") is None


async def test_concurrent_consume_leaving_gives_the_value_once(store: EphemeralStore) -> None:
    await store.put("code:b", b"grant", 30)
    results = await asyncio.gather(*(store.consume_leaving("code:b", "code-used:b", f"{i}".encode(), 30) for i in range(50)))
    assert results.count(b"grant") == 1
    assert results.count(None) == 49
