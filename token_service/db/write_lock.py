"""One SQLite writer at a time across every worker process, without SQLite's sleeping wait.

SQLite has one writer. A second writer waits in SQLite's busy handler, which sleeps in
steps of 1, 2, 5, 10 ... up to 100 ms; and a rotation holds the write lock across several
event-loop turns (each statement is a hop to aiosqlite's thread and back), so under load
the sleeps became the latency: with two workers on the embedded default, refresh
rotations fell from ~280 to ~30 per second (p50 200 ms) in one measured run. Writers of
one process queue on an asyncio lock (each starts the moment the previous one commits);
writers of the other processes on an `flock` of a file beside the database, polled every
fraction of a millisecond without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # not on Windows: the in-process queue alone, as for one worker
    fcntl = None  # type: ignore[assignment]

FIRST_POLL_SECONDS = 0.0002
LONGEST_POLL_SECONDS = 0.002


class SqliteWriteLock:
    def __init__(self, database: str | None) -> None:
        self._local = asyncio.Lock()
        shared = fcntl is not None and database not in (None, "", ":memory:")
        self._path = Path(f"{database}.write-lock") if shared else None
        self._fd: int | None = None

    async def __aenter__(self) -> None:
        await self._local.acquire()
        if self._path is None:
            return
        # Opened per hold (microseconds): nothing stays open for an app that is never closed.
        fd, delay = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), FIRST_POLL_SECONDS
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._fd = fd
                    return
                except BlockingIOError:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, LONGEST_POLL_SECONDS)
        except BaseException:
            os.close(fd)
            self._local.release()
            raise

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        try:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)  # closing the descriptor releases its flock
        finally:
            self._local.release()
