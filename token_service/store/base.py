"""The store interface: key/value with TTLs and an atomic consume.

Three implementations: a SQLite file (the default without Redis, shared by the worker
processes of one host), in-process (one worker: `dev`, `TOKEN_SERVICE_EPHEMERAL_STORE=memory`)
and Redis (instances on several hosts). `consume` is the primitive that makes authorization codes and login
state single-use: of any number of concurrent callers, exactly one gets the value.
`consume_leaving` also leaves a marker behind in the same step (a redeemed code's record
of what it produced, one round trip instead of two).
"""

from __future__ import annotations

from typing import Protocol


class StoreUnavailable(Exception):
    """The backing store cannot be reached; endpoints answer 503 temporarily_unavailable."""


class EphemeralStore(Protocol):
    async def put(self, key: str, value: bytes, ttl: float) -> None: ...

    async def put_if_absent(self, key: str, value: bytes, ttl: float) -> bool: ...

    async def get(self, key: str) -> bytes | None: ...

    async def consume(self, key: str) -> bytes | None: ...

    async def consume_leaving(self, key: str, marker_key: str, marker: bytes, marker_ttl: float) -> bytes | None:
        """`consume`, and in the same atomic step, only if there was a value, put `marker` under
        `marker_key`: no caller can see the value gone and the marker not yet there."""
        ...

    async def delete(self, key: str) -> None: ...

    async def touch(self, key: str, ttl: float) -> bool: ...

    async def incr(self, key: str, ttl: float) -> int: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
