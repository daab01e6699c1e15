"""In-process store for the embedded default (a single instance).

Bounded by bytes, not entries, in separate budgets per kind of record: anonymous
requests create login transactions (`tx:`, `upstream:`) at will, and when they fill
their budget they evict each other, never a signed-in user's browser session
(`session:`), which has its own. Within a budget the least recently used entry goes
first: each budget is an OrderedDict in use order (`move_to_end` on every write, read
and touch), so an eviction is a `popitem` from the front: O(1) per write however
full the store is. Expired entries are dropped when met, and a write checks the
oldest few entries for expiry, which keeps idle budgets from holding dead records.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

# What an entry costs beyond its key and value: the OrderedDict node, the tuple, the
# float and the bytes/str headers (measured with sys.getsizeof on CPython 3.11: ~250).
ENTRY_OVERHEAD = 256
# Expired entries looked at (and dropped) at the oldest end on each write.
EXPIRY_CHECKS_PER_WRITE = 2
MIB = 1024 * 1024

# Which budget a key's prefix (before the first ":") draws on, as shares of the total.
SESSION_PREFIXES = frozenset({"session"})
LOGIN_PREFIXES = frozenset({"tx", "upstream"})
SHARES = {"sessions": 0.5, "logins": 0.25, "other": 0.25}


def budget_of(key: str) -> str:
    prefix = key.partition(":")[0]
    if prefix in SESSION_PREFIXES:
        return "sessions"
    if prefix in LOGIN_PREFIXES:
        return "logins"
    return "other"


@dataclass
class BudgetStats:
    writes: int = 0
    evictions: int = 0
    expired: int = 0
    # Entries looked at by eviction and expiry: the work a write does besides its own.
    examined: int = 0


class Budget:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self.stats = BudgetStats()

    def remove(self, key: str) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.used -= _size(key, entry[0])

    def live(self, key: str, now: float) -> bytes | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            self.remove(key)
            self.stats.expired += 1
            return None
        self.entries.move_to_end(key)
        return entry[0]

    def write(self, key: str, value: bytes, expires: float, now: float) -> None:
        size = _size(key, value)
        if size > self.max_bytes:
            raise ValueError(f"a {size}-byte record exceeds the store budget of {self.max_bytes} bytes")
        self.stats.writes += 1
        self.remove(key)
        self._drop_expired(now)
        while self.used + size > self.max_bytes:
            old_key, (old_value, _) = self.entries.popitem(last=False)
            self.used -= _size(old_key, old_value)
            self.stats.evictions += 1
            self.stats.examined += 1
        self.entries[key] = (value, expires)
        self.used += size

    def _drop_expired(self, now: float) -> None:
        for _ in range(EXPIRY_CHECKS_PER_WRITE):
            if not self.entries:
                return
            key, (value, expires) = next(iter(self.entries.items()))
            self.stats.examined += 1
            if expires > now:
                return
            del self.entries[key]
            self.used -= _size(key, value)
            self.stats.expired += 1


def _size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


class MemoryStore:
    def __init__(self, max_bytes: int = 256 * MIB, shares: Mapping[str, float] = SHARES) -> None:
        self.budgets = {name: Budget(int(max_bytes * share)) for name, share in shares.items()}

    def _budget(self, key: str) -> Budget:
        return self.budgets[budget_of(key)]

    # No awaits inside these methods: on one event loop each runs to completion
    # without interleaving, which is what makes `consume` and `incr` atomic here.
    async def put(self, key: str, value: bytes, ttl: float) -> None:
        now = time.monotonic()
        self._budget(key).write(key, value, now + ttl, now)

    async def put_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        if self._budget(key).live(key, time.monotonic()) is not None:
            return False
        await self.put(key, value, ttl)
        return True

    async def get(self, key: str) -> bytes | None:
        return self._budget(key).live(key, time.monotonic())

    async def consume(self, key: str) -> bytes | None:
        budget = self._budget(key)
        value = budget.live(key, time.monotonic())
        if value is not None:
            budget.remove(key)
        return value

    async def consume_leaving(self, key: str, marker_key: str, marker: bytes, marker_ttl: float) -> bytes | None:
        value = await self.consume(key)
        if value is not None:
            await self.put(marker_key, marker, marker_ttl)
        return value

    async def delete(self, key: str) -> None:
        self._budget(key).remove(key)

    async def touch(self, key: str, ttl: float) -> bool:
        budget = self._budget(key)
        now = time.monotonic()
        value = budget.live(key, now)
        if value is None:
            return False
        # `live` moved it to the most recently used end; only the expiry changes.
        budget.entries[key] = (value, now + ttl)
        return True

    async def incr(self, key: str, ttl: float) -> int:
        budget = self._budget(key)
        now = time.monotonic()
        value = budget.live(key, now)
        if value is None:
            budget.write(key, b"1", now + ttl, now)
            return 1
        count = int(value) + 1
        budget.write(key, str(count).encode(), budget.entries[key][1], now)
        return count

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for budget in self.budgets.values():
            budget.entries.clear()
            budget.used = 0
