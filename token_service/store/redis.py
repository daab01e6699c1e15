"""Redis store: shared by every instance behind the load balancer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from token_service.store.base import StoreUnavailable

T = TypeVar("T")


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


# Redis runs a script atomically; the marker is written only when the key held a value, so
# guessed or expired keys leave nothing behind.
_CONSUME_LEAVING = """
local value = redis.call('GETDEL', KEYS[1])
if value then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
end
return value
"""


class RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=15)
        self._prefix = prefix
        # EVALSHA, falling back to EVAL when the server does not have the script yet (a restart).
        self._consume_leaving = self._redis.register_script(_CONSUME_LEAVING)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from None

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._call(lambda: self._redis.set(self._key(key), value, px=_ms(ttl)))

    async def put_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call(lambda: self._redis.set(self._key(key), value, px=_ms(ttl), nx=True)))

    async def get(self, key: str) -> bytes | None:
        result: Any = await self._call(lambda: self._redis.get(self._key(key)))
        return bytes(result) if result is not None else None

    async def consume(self, key: str) -> bytes | None:
        # GETDEL is atomic on the server: of concurrent callers on any instance, one gets the value.
        result: Any = await self._call(lambda: self._redis.getdel(self._key(key)))
        return bytes(result) if result is not None else None

    async def consume_leaving(self, key: str, marker_key: str, marker: bytes, marker_ttl: float) -> bytes | None:
        keys = [self._key(key), self._key(marker_key)]
        result: Any = await self._call(lambda: self._consume_leaving(keys=keys, args=[marker, _ms(marker_ttl)]))
        return bytes(result) if result is not None else None

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._redis.delete(self._key(key)))

    async def touch(self, key: str, ttl: float) -> bool:
        return bool(await self._call(lambda: self._redis.pexpire(self._key(key), _ms(ttl))))

    async def incr(self, key: str, ttl: float) -> int:
        async def run() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(self._key(key))
                pipe.pexpire(self._key(key), _ms(ttl), nx=True)
                count, _ = await pipe.execute()
            return int(count)

        return await self._call(run)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
