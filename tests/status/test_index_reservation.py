"""Token requests always get a status index, however many wait between `hold` and `assign`.

Under load a request can wait on something else (a code, a user row) after it passed the
pool check and before it takes its index; with only "at least one index left" checked,
the requests that arrived together took more indices than were left and the late ones
were refused with 503 (seen at 64 connections on one worker). `hold` counts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.support.clock import FakeClock
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings
from token_service.status import StatusIndices, status_list_store
from token_service.status.store import IndexBlock, StatusListStore


class SlowReserve(StatusListStore):
    """The real store, whose reservations take as long as on a saturated event loop."""

    def __init__(self, real: StatusListStore) -> None:
        self.__dict__.update(real.__dict__)
        self.reservations = 0

    async def reserve(self, now: int, blocks: int = 1) -> IndexBlock:
        self.reservations += 1
        await asyncio.sleep(0.05)
        return await super().reserve(now, blocks)


async def one_grant(indices: StatusIndices, clock: FakeClock, n: int) -> tuple[str, int]:
    await indices.hold()
    try:
        await asyncio.sleep(0.01)  # the grant's own database work
        claim = indices.assign(jti=f"j{n}", client_id="c", user_id=None, family_id=None, expires_at=int(clock()) + 60)
    finally:
        indices.release()
    return claim["status_list"]["uri"], claim["status_list"]["idx"]


@asynccontextmanager
async def slow_indices(settings: TokenServiceSettings) -> AsyncIterator[tuple[SlowReserve, StatusIndices, FakeClock]]:
    """Indices in blocks of 16 whose reservations take 50 ms; entries are written only when flushed."""
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = SlowReserve(status_list_store(runtime.db_sessions, settings))
        yield store, StatusIndices(store, issuer=settings.issuer, block_size=16, clock=clock, flush_seconds=3600), clock
    finally:
        await runtime.close()


def test_concurrent_requests_beyond_a_block_all_get_distinct_indices(make_settings: Any) -> None:
    asyncio.run(crowd(make_settings(status_list_block=16)))


async def crowd(settings: TokenServiceSettings) -> None:
    async with slow_indices(settings) as (store, indices, clock):
        # 100 requests at once against blocks of 16: none is refused, no index is handed out twice.
        claims = await asyncio.gather(*(one_grant(indices, clock, n) for n in range(100)))
        assert len(set(claims)) == 100
        # Afterwards a whole block is kept in reserve: the next request does not wait for the database.
        await asyncio.sleep(0.2)
        reserved = store.reservations
        await asyncio.wait_for(indices.hold(), timeout=0.02)
        indices.release()
        assert store.reservations == reserved
        await indices.flush()


def test_the_reserve_grows_with_the_rate_so_requests_do_not_wait(make_settings: Any) -> None:
    asyncio.run(steady_stream(make_settings(status_list_block=16)))


async def steady_stream(settings: TokenServiceSettings) -> None:
    async with slow_indices(settings) as (_, indices, clock):
        # ~2000 tokens/s against blocks of 16 (8 ms each) and reservations of 50 ms: a reserve of
        # one block ahead runs dry on every block; one sized to the rate does not after warm-up.
        waits: list[tuple[float, float]] = []
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def client(n: int) -> None:
            while loop.time() - started < 1.0:
                before = loop.time()
                await indices.hold()
                waits.append((before - started, loop.time() - before))
                indices.assign(jti=f"j{n}-{len(waits)}", client_id="c", user_id=None, family_id=None, expires_at=int(clock()) + 60)
                indices.release()
                await asyncio.sleep(0.005)

        await asyncio.gather(*(client(n) for n in range(10)))
        late = [wait for at, wait in waits if at > 0.3]
        assert len(late) > 500
        assert [wait for wait in late if wait > 0.02] == []
        await indices.flush()
