"""Status indices for access tokens: taken from memory, written in the background.

`assign` is synchronous (it runs inside a refresh rotation, which must not touch the
database): it takes the next index of a block this instance reserved beforehand and
queues the entry saying which token holds it. `hold` (before a grant) makes sure an index
is there for the request, counting the requests already between `hold` and `release`,
and keeps a whole spare block reserved ahead, so a token request waits for the database
only when an instance starts or runs dry. A whole block ahead, not half of one: under a
saturated event loop each await of the reservation waits a full turn of every running
request, and a reservation took 150-320 ms at 64 connections on one worker, longer than
half a block lasted (measured; the pool ran dry, requests stalled ~0.5 s and some got 503).
And more than a block when tokens go faster: the reserve covers `RESERVE_AHEAD_SECONDS` of
the rate measured between reservations, taken in one transaction. With two workers on
SQLite, whose reservations also queue behind each other's writes, a fixed block of 1024
ran dry under 64 connections, and waiting for the next one made the p99 of every request
about 350 ms (measured; 42 ms with a reserve that covered the wait).

The queued entries are written by a background task every `FLUSH_SECONDS`, one insert for
all of them: a token response costs no database round trip for its status. Writing them
inside each response (concurrent responses sharing an insert) cost 12-25 % of
client_credentials throughput (benchmarks/token_throughput.py --status-compare).
A revocation that runs before a token's entry is written still reaches the token: it
leaves a fence (store.py) that every writer checks its inserts against afterwards, and a
revocation on this instance writes this instance's queue first. A failed insert keeps its
entries queued for the next try; shutting down writes the queue. Only a process killed
outright within that fraction of a second loses entries: APIs then accept those tokens
until they expire, whatever is revoked later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from token_service.clock import Clock, epoch_seconds
from token_service.errors import TemporarilyUnavailable
from token_service.status.store import IndexBlock, StatusEntry, StatusListStore

log = logging.getLogger("token_service.status")

# How long an entry waits in memory before the background writer stores it.
FLUSH_SECONDS = 0.1
# The writer's wait after a failed insert doubles up to this.
RETRY_CEILING_SECONDS = 5.0
# The reserve kept ahead covers this long at the recent rate (at least one block).
RESERVE_AHEAD_SECONDS = 2.0
# At most this many blocks in one reservation (a burst does not take a whole list).
MAX_BLOCKS_AT_ONCE = 64


def status_list_uri(issuer: str, list_id: str) -> str:
    return f"{issuer}/statuslists/{list_id}"


class StatusIndices:
    def __init__(
        self,
        store: StatusListStore,
        *,
        issuer: str,
        block_size: int,
        clock: Clock,
        reserved: Callable[[], None] = lambda: None,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._store = store
        # Called when a list may have changed: a block reserved (possibly in a new list), a fence applied.
        self._reserved = reserved
        self._flush_seconds = flush_seconds
        self._issuer = issuer
        self._block_size = block_size
        # Reserve more as soon as less than this is left in memory: a block, or more at a high rate.
        self._low_water = block_size
        # Indices handed out, and (monotonic time, count) when the rate was last measured.
        self._taken = 0
        self._rate_mark = (time.monotonic(), 0)
        # Requests between `hold` and `release`: each may still take an index.
        self._holding = 0
        self._clock = clock
        self._blocks: deque[IndexBlock] = deque()
        self._reserving: asyncio.Task[None] | None = None
        self._queued: list[StatusEntry] = []
        # Stored, but not yet checked against fences (the check failed): checked on the next flush.
        self._unchecked: list[StatusEntry] = []
        self._writer: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    def _usable(self, now: int) -> int:
        while self._blocks and (self._blocks[0].remaining == 0 or self._blocks[0].usable_until <= now):
            self._blocks.popleft()
        return sum(block.remaining for block in self._blocks if block.usable_until > now)

    async def _reserve(self, blocks: int) -> None:
        self._blocks.append(await self._store.reserve(epoch_seconds(self._clock), blocks))
        self._reserved()  # possibly a new list: the publisher picks it up now

    def _blocks_to_reserve(self) -> int:
        """Sizes the reserve to the rate since the last reservation (real time, not the service's clock:
        this is about how fast this process hands out indices)."""
        now, taken = time.monotonic(), self._taken
        since, taken_then = self._rate_mark
        if now - since >= 0.05:
            rate = (taken - taken_then) / (now - since)
            self._low_water = max(self._block_size, int(rate * RESERVE_AHEAD_SECONDS))
            self._rate_mark = (now, taken)
        return min(MAX_BLOCKS_AT_ONCE, max(1, -(-self._low_water // self._block_size)))

    def _start_reserving(self) -> asyncio.Task[None]:
        if self._reserving is None or self._reserving.done():
            self._reserving = asyncio.get_running_loop().create_task(self._reserve(self._blocks_to_reserve()))
            self._reserving.add_done_callback(lambda task: None if task.cancelled() else task.exception())
        return self._reserving

    async def _ensure(self, extra: int) -> None:
        """Waits until the indices in memory cover every holder plus `extra`; reserves the next
        block in the background while less than a whole one is left beyond that."""
        while True:
            usable = self._usable(epoch_seconds(self._clock))
            needed = self._holding + extra
            if usable >= self._low_water + needed:
                return
            reserving = self._start_reserving()
            if usable >= needed:
                return
            await asyncio.shield(reserving)

    async def ready(self) -> None:
        """At least one index is in memory (for a caller that assigns right after, without awaiting)."""
        await self._ensure(1)

    async def hold(self) -> None:
        """Before a grant that may issue a token: an index is kept for it until `release`.

        Every request between `hold` and `release`, waiting or not, is counted (an index
        it took stays counted until then, which only errs towards reserving early), so
        requests that wait on something else before they assign (a database read, a
        code) all find their index.
        """
        self._holding += 1
        try:
            await self._ensure(0)
        except BaseException:
            self._holding -= 1
            raise

    def release(self) -> None:
        """After the grant, whether it issued a token or failed."""
        self._holding -= 1

    def assign(self, *, jti: str, client_id: str, user_id: str | None, family_id: str | None, expires_at: int) -> dict[str, Any]:
        """The token's `status` claim; its entry is queued for the background writer."""
        blocks = self._blocks
        if not blocks or blocks[0].next >= blocks[0].end or blocks[0].usable_until <= epoch_seconds(self._clock):
            if self._usable(epoch_seconds(self._clock)) == 0:
                # Only for a caller that assigns without `hold`, when the pool ran dry.
                raise TemporarilyUnavailable("no token status index is reserved yet; retry shortly", retry_after=1)
        block = blocks[0]
        index = block.next
        block.next += 1
        self._taken += 1
        self._queued.append(StatusEntry(block.list_id, index, jti, client_id, user_id, family_id, expires_at, epoch_seconds(self._clock)))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_soon())
        return {"status_list": {"idx": index, "uri": status_list_uri(self._issuer, block.list_id)}}

    @property
    def queued(self) -> int:
        """Entries not written yet."""
        return len(self._queued)

    async def _write_soon(self) -> None:
        """Writes the queue after `flush_seconds`; again while entries keep coming; retries after a failure."""
        delay = self._flush_seconds
        try:
            while self._queued or self._unchecked:
                await asyncio.sleep(delay)
                try:
                    await self.flush()
                    delay = self._flush_seconds
                except Exception as error:  # the database is away: the entries stay queued
                    delay = min(delay * 2, RETRY_CEILING_SECONDS)
                    log.warning("status entries not written yet (%d queued), retrying in %.1f s: %s", len(self._queued), delay, error)
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Writes every entry queued before the call (one insert), then applies fences to them.

        A failed insert keeps its entries queued and raises; a failed fence check keeps its
        entries for the next flush.
        """
        async with self._flush_lock:
            entries, self._queued = self._queued, []
            if entries:
                try:
                    await self._store.record(entries)
                except BaseException:
                    self._queued = entries + self._queued
                    raise
                self._unchecked.extend(entries)
            if self._unchecked:
                # After the insert committed: a revocation whose update missed these rows
                # committed its fence before that update, so this query sees it.
                if await self._store.revoke_fenced(self._unchecked, epoch_seconds(self._clock)):
                    self._reserved()
                self._unchecked = []

    async def close(self) -> None:
        """At shutdown: stops the background writer and writes what is queued."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        try:
            await self.flush()
        except Exception:
            log.exception("status entries of %d access tokens could not be written at shutdown; "
                          "revocations cannot flip their bits; APIs accept them until they expire", len(self._queued))
