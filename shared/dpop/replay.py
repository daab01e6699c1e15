"""Remembering DPoP proof `jti`s so each proof is used once (RFC 9449 §11.1).

In memory for one process (bounded: the oldest entries go first, and they are the
ones closest to expiring anyway), or in Redis when several instances of an API must
refuse a proof replayed to a different instance.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..errors import KeySetUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MemoryReplayCache", "RedisReplayCache", "ReplayCache", "ReplayCacheUnavailable"]


class ReplayCacheUnavailable(KeySetUnavailable):
    """The shared replay cache cannot be reached: no proof can be accepted safely (503)."""

    rule = "dpop"


class ReplayCache(Protocol):
    async def first_use(self, key: str, ttl: float) -> bool:
        """True the first time `key` is seen within `ttl` seconds, False after that."""
        ...


class MemoryReplayCache:
    """One process's memory of recent proofs, at most `max_entries` of them."""

    def __init__(self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def first_use(self, key: str, ttl: float) -> bool:
        now = self._clock()
        expires = self._seen.get(key)
        if expires is not None and expires > now:
            return False
        self._seen[key] = now + ttl
        self._seen.move_to_end(key)
        # Entries arrive in time order with the same window, so expired ones sit at the front.
        while self._seen:
            oldest_key, oldest_expiry = next(iter(self._seen.items()))
            if oldest_expiry > now and len(self._seen) <= self._max:
                break
            del self._seen[oldest_key]
        return True

    def __len__(self) -> int:
        return len(self._seen)


class RedisReplayCache:
    """Proof `jti`s in Redis (SET NX with expiry): one use across every instance sharing it."""

    def __init__(self, redis: Redis, *, prefix: str = "dpop-jti:") -> None:
        self._redis = redis
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "dpop-jti:") -> RedisReplayCache:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0), prefix=prefix)

    async def first_use(self, key: str, ttl: float) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(await self._redis.set(self._prefix + key, b"1", px=max(1, int(ttl * 1000)), nx=True))
        except (RedisError, OSError) as exc:
            raise ReplayCacheUnavailable(f"the DPoP replay cache (Redis) is unreachable: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        await self._redis.aclose()
