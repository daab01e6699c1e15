"""Degraded mode: know when the database or the store is away, and say so with 503.

A monitor pings both backends every second. While either is down, endpoints that need
them answer 503 `temporarily_unavailable` with Retry-After at once (instead of each
request waiting for a connection timeout), /readyz fails, and discovery and the JWKS
keep being served from memory. Recovery needs no restart: the next good ping clears it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, TimeoutError as PoolTimeout

from token_service.errors import TemporarilyUnavailable
from token_service.store import StoreUnavailable

log = logging.getLogger("token_service.backends")

PING_INTERVAL = 1.0
PING_TIMEOUT = 2.0
# A backend counts as down after this many failed pings in a row: one slow ping while the
# instance is saturated with requests must not turn an overload into a 503 storm.
FAILURES_BEFORE_DOWN = 2
RETRY_AFTER = 5
# How often the heartbeat beside a ping wakes, and how late it may wake before the event
# loop counts as saturated. A ping that times out while this process could not even
# run a timer on time says nothing about the backend: the answer may be sitting unread
# in the socket. Only a backend error, or a timeout on a responsive loop, is a failure.
HEARTBEAT = 0.05
SATURATED_LAG = 0.25


class Heartbeat:
    """Measures the event loop's lag (how late a timer fires) while a ping runs."""

    def __init__(self) -> None:
        self.worst_lag = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + HEARTBEAT
            await asyncio.sleep(HEARTBEAT)
            self.worst_lag = max(self.worst_lag, loop.time() - due)


def is_backend_outage(exc: BaseException) -> bool:
    """An error that means "a backend is unreachable", not "a bug"."""
    if isinstance(exc, (StoreUnavailable, OperationalError, InterfaceError, PoolTimeout, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    if isinstance(exc, OSError):
        return True
    # asyncpg reports a dropped connection with its own exception types.
    return type(exc).__module__.startswith("asyncpg") and "Connection" in type(exc).__name__


class BackendHealth:
    def __init__(self, check_database: Callable[[], Awaitable[bool]], check_store: Callable[[], Awaitable[bool]]) -> None:
        self._check_database = check_database
        self._check_store = check_store
        self.database_ok = True
        self.store_ok = True
        self._failures = {"database": 0, "store": 0}

    @property
    def ok(self) -> bool:
        return self.database_ok and self.store_ok

    async def _probe(self, check: Callable[[], Awaitable[bool]], heartbeat: Heartbeat) -> bool | None:
        """True: answered. False: the backend failed (an error, or silence on a responsive
        loop). None: inconclusive, the ping timed out while the loop itself was saturated."""
        try:
            return await asyncio.wait_for(check(), PING_TIMEOUT)
        except TimeoutError:
            if heartbeat.worst_lag >= SATURATED_LAG:
                log.warning("backend ping timed out while the event loop lagged %.2f s; not counted as an outage", heartbeat.worst_lag)
                return None
            return False
        except Exception:
            return False

    def _verdict(self, name: str, answered: bool | None, was_ok: bool, *, immediate: bool) -> bool:
        if answered is None:
            return was_ok
        self._failures[name] = 0 if answered else self._failures[name] + 1
        return answered or (not immediate and self._failures[name] < FAILURES_BEFORE_DOWN)

    async def check_now(self, *, immediate: bool = False) -> bool:
        """Ping both backends; `immediate` judges on this ping alone (readiness probes)."""
        heartbeat = Heartbeat()
        beating = asyncio.create_task(heartbeat.run())
        try:
            database_answered, store_answered = await asyncio.gather(
                self._probe(self._check_database, heartbeat), self._probe(self._check_store, heartbeat)
            )
        finally:
            beating.cancel()
        database_ok = self._verdict("database", database_answered, self.database_ok, immediate=immediate)
        store_ok = self._verdict("store", store_answered, self.store_ok, immediate=immediate)
        if (database_ok, store_ok) != (self.database_ok, self.store_ok):
            state = ", ".join(f"{name} {'up' if up else 'DOWN'}" for name, up in (("database", database_ok), ("store", store_ok)))
            (log.info if database_ok and store_ok else log.error)("backends: %s", state)
        self.database_ok, self.store_ok = database_ok, store_ok
        return self.ok

    async def monitor(self) -> None:
        while True:
            await self.check_now()
            await asyncio.sleep(PING_INTERVAL)

    def require(self, needed: Iterable[str] = ("database", "store")) -> None:
        """Raises 503 at once when a backend in `needed` is down, instead of letting the
        request wait for a connection timeout."""
        if self.ok:
            return
        down = [label for name, label, up in (("database", "database", self.database_ok), ("store", "session store", self.store_ok)) if name in needed and not up]
        if down:
            raise TemporarilyUnavailable(f"the {' and '.join(down)} cannot be reached; retry shortly", retry_after=RETRY_AFTER)
