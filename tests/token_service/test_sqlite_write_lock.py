"""SQLite writers of several worker processes queue on one lock, without stalling the event loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

from token_service.db.write_lock import SqliteWriteLock

HOLD_SECONDS = 0.4


def hold_the_lock(database: str, held: "multiprocessing.synchronize.Event") -> None:
    async def run() -> None:
        async with SqliteWriteLock(database):
            held.set()
            await asyncio.sleep(HOLD_SECONDS)

    asyncio.run(run())


async def test_a_writer_waits_for_another_processes_writer_while_its_loop_keeps_running(tmp_path: Path) -> None:
    database = str(tmp_path / "token-service.db")
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    other = context.Process(target=hold_the_lock, args=(database, held))
    other.start()
    try:
        assert await asyncio.to_thread(held.wait, 60)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        start = time.monotonic()
        async with SqliteWriteLock(database):
            waited = time.monotonic() - start
        ticking.cancel()
    finally:
        other.join(30)
    assert waited > HOLD_SECONDS / 4
    # The wait polled: the loop served other work meanwhile.
    assert ticks >= 5


async def test_writers_of_one_process_take_turns(tmp_path: Path) -> None:
    lock = SqliteWriteLock(str(tmp_path / "token-service.db"))
    inside: list[int] = []
    overlaps = 0

    async def write(number: int) -> None:
        nonlocal overlaps
        async with lock:
            overlaps += len(inside)
            inside.append(number)
            await asyncio.sleep(0.001)
            inside.remove(number)

    await asyncio.gather(*(write(n) for n in range(20)))
    assert overlaps == 0


async def test_an_in_memory_database_needs_no_lock_file(tmp_path: Path) -> None:
    async with SqliteWriteLock(":memory:"):
        pass
    async with SqliteWriteLock(None):
        pass
    assert list(tmp_path.iterdir()) == []
