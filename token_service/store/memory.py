"""In-process store for the embedded default (a single instance)."""

from __future__ import annotations

import time


class MemoryStore:
    def __init__(self, max_entries: int = 100_000) -> None:
        self._data: dict[str, tuple[bytes, float]] = {}
        self._max_entries = max_entries

    def _live(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._data[key]
            return None
        return entry[0]

    def _sweep(self) -> None:
        # Bounded memory: expired entries go first; a flood of fresh ones evicts the oldest.
        if len(self._data) < self._max_entries:
            return
        now = time.monotonic()
        for key in [k for k, (_, expires) in self._data.items() if expires <= now]:
            del self._data[key]
        while len(self._data) >= self._max_entries:
            del self._data[next(iter(self._data))]

    # No awaits inside these methods: on one event loop each runs to completion
    # without interleaving, which is what makes `consume` and `incr` atomic here.
    async def put(self, key: str, value: bytes, ttl: float) -> None:
        self._sweep()
        self._data[key] = (value, time.monotonic() + ttl)

    async def put_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        await self.put(key, value, ttl)
        return True

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def consume(self, key: str) -> bytes | None:
        value = self._live(key)
        if value is not None:
            del self._data[key]
        return value

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def touch(self, key: str, ttl: float) -> bool:
        value = self._live(key)
        if value is None:
            return False
        self._data[key] = (value, time.monotonic() + ttl)
        return True

    async def incr(self, key: str, ttl: float) -> int:
        value = self._live(key)
        if value is None:
            await self.put(key, b"1", ttl)
            return 1
        count = int(value) + 1
        self._data[key] = (str(count).encode(), self._data[key][1])
        return count

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
