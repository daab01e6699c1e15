"""Status indices for access tokens: taken from memory, recorded in groups.

`assign` is synchronous (it runs inside a refresh rotation, which must not touch the
database): it takes the next index of a block this instance reserved beforehand and
queues the entry saying which token holds it. `ready` (before a grant) makes sure a block
is there, reserving the next one in the background while half of one is left, so a token
request waits for the database only when an instance starts or runs dry. `persist` (before
the response leaves) writes the queued entries: concurrent requests share one insert, and
a token is never handed out before its entry is stored, so every revocation finds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from token_service.clock import Clock, epoch_seconds
from token_service.errors import TemporarilyUnavailable
from token_service.status.store import IndexBlock, StatusEntry, StatusListStore

log = logging.getLogger("token_service.status")


def status_list_uri(issuer: str, list_id: str) -> str:
    return f"{issuer}/statuslists/{list_id}"


class StatusIndices:
    def __init__(self, store: StatusListStore, *, issuer: str, block_size: int, clock: Clock, reserved: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._reserved = reserved
        self._issuer = issuer
        self._low_water = max(block_size // 2, 1)
        self._clock = clock
        self._blocks: deque[IndexBlock] = deque()
        self._reserving: asyncio.Task[None] | None = None
        self._queued: list[StatusEntry] = []
        self._assigned = 0
        self._persisted = 0
        self._flush_lock = asyncio.Lock()

    def _usable(self, now: int) -> int:
        while self._blocks and (self._blocks[0].remaining == 0 or self._blocks[0].usable_until <= now):
            self._blocks.popleft()
        return sum(block.remaining for block in self._blocks if block.usable_until > now)

    async def _reserve(self) -> None:
        self._blocks.append(await self._store.reserve(epoch_seconds(self._clock)))
        self._reserved()  # possibly a new list: the publisher picks it up now

    def _start_reserving(self) -> asyncio.Task[None]:
        if self._reserving is None or self._reserving.done():
            self._reserving = asyncio.get_running_loop().create_task(self._reserve())
            self._reserving.add_done_callback(lambda task: None if task.cancelled() else task.exception())
        return self._reserving

    async def ready(self) -> None:
        """At least one index is in memory (a block is reserved ahead while half of one is left)."""
        now = epoch_seconds(self._clock)
        first = self._blocks[0] if self._blocks else None
        if first is not None and first.usable_until > now and first.end - first.next >= self._low_water:
            return  # the usual case, without summing the blocks
        usable = self._usable(now)
        if usable >= self._low_water:
            return
        task = self._start_reserving()
        if usable == 0:
            await asyncio.shield(task)

    def assign(self, *, jti: str, client_id: str, user_id: str | None, family_id: str | None, expires_at: int) -> dict[str, Any]:
        """The token's `status` claim; its entry is queued for `persist`."""
        blocks = self._blocks
        if not blocks or blocks[0].next >= blocks[0].end or blocks[0].usable_until <= epoch_seconds(self._clock):
            if self._usable(epoch_seconds(self._clock)) == 0:
                # Only when more requests raced past `ready` than half a block holds.
                raise TemporarilyUnavailable("no token status index is reserved yet; retry shortly", retry_after=1)
        block = blocks[0]
        index = block.next
        block.next += 1
        self._queued.append(StatusEntry(block.list_id, index, jti, client_id, user_id, family_id, expires_at))
        self._assigned += 1
        return {"status_list": {"idx": index, "uri": status_list_uri(self._issuer, block.list_id)}}

    async def persist(self) -> None:
        """Returns once every entry assigned before the call is stored (group commit).

        Requests that arrive while an insert runs queue behind the lock; the first of them
        writes everything queued meanwhile. (An event waking them all at once was measured
        worse: the next insert started sooner, with fewer entries, so there were more of them.)
        """
        target = self._assigned
        while self._persisted < target:
            async with self._flush_lock:
                if self._persisted >= target:
                    return
                # One turn of the event loop first: requests already under way queue their
                # entries too, and share this insert.
                await asyncio.sleep(0)
                entries, self._queued = self._queued, []
                upto = self._assigned
                try:
                    await self._store.record(entries)
                except BaseException:
                    # Kept for the next flush: the request fails (503), the entries are not lost.
                    self._queued = entries + self._queued
                    raise
                self._persisted = upto
