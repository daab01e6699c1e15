"""Abuse limits, kept in the ephemeral backend so they hold across instances.

The algorithm (a moving window) comes from the `limits` library; this module only
names the limits and turns a refusal into a Retry-After.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from token_service.store.sqlite_limits import SqliteLimitsStorage
from token_service.users.names import username_key


class RateLimiter:
    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, item: RateLimitItem | None, *identifiers: str) -> int | None:
        """Counts one attempt; returns None when allowed, else the seconds to wait."""
        if item is None:
            return None
        if await self._limiter.hit(item, *identifiers):
            return None
        stats = await self._limiter.get_window_stats(item, *identifiers)
        # The library keeps its windows on its own wall clock, so the wait is measured on
        # that clock too, not on the service's injected one.
        return max(1, math.ceil(stats.reset_time - time.time()))


def limiter_storage(redis_url: str | None, redis_prefix: str, *, file: Path | None = None) -> Storage:
    """Where windows are kept: the same backend as the rest of the ephemeral state, so the
    limits hold across every worker and instance that shares it."""
    if redis_url is None:
        if file is not None:
            return SqliteLimitsStorage(file)
        return MemoryStorage()
    return RedisStorage("async+" + redis_url, implementation="redispy", key_prefix=redis_prefix + "limits", wrap_exceptions=True)


def parse_limit(text: str) -> RateLimitItem | None:
    return parse(text) if text.strip() else None


class LoginLimits:
    """Password attempts per client IP and per username (OWASP authentication guidance),
    and sign-ins started per client IP (each holds store memory until it expires)."""

    def __init__(self, limiter: RateLimiter, *, per_ip: str, per_username: str, per_start_ip: str) -> None:
        self._limiter = limiter
        self._per_ip = parse_limit(per_ip)
        self._per_user = parse_limit(per_username)
        self._starts = parse_limit(per_start_ip)

    async def check_ip(self, ip: str) -> int | None:
        """Login starts at an upstream: per client IP only (no username is known yet)."""
        return await self._limiter.hit(self._per_ip, "login-ip", ip)

    async def check_start(self, ip: str) -> int | None:
        """A new pending sign-in (login transaction): each costs store memory until it expires."""
        return await self._limiter.hit(self._starts, "login-start-ip", ip)

    async def check(self, ip: str, username: str) -> int | None:
        wait_ip = await self._limiter.hit(self._per_ip, "login-ip", ip)
        # The key sign-in uses: every spelling of one account shares one bucket.
        wait_user = await self._limiter.hit(self._per_user, "login-user", username_key(username))
        waits = [w for w in (wait_ip, wait_user) if w is not None]
        return max(waits) if waits else None


class TokenLimits:
    """Token requests per client (`TOKEN_SERVICE_TOKEN_RATE_LIMIT`); no cost when unset."""

    def __init__(self, limiter: RateLimiter, *, per_client: str) -> None:
        self._limiter = limiter
        self._per_client = parse_limit(per_client)

    async def check(self, client_id: str) -> int | None:
        if self._per_client is None:
            return None
        return await self._limiter.hit(self._per_client, "token-client", client_id)


class DocumentFetchLimits:
    """Fetches of client metadata documents per host: naming URLs at /authorize must not
    turn the service into a tool for hammering someone else's server."""

    def __init__(self, limiter: RateLimiter, *, per_host: str = "30/minute") -> None:
        self._limiter = limiter
        self._per_host = parse_limit(per_host)

    async def check(self, host: str) -> int | None:
        return await self._limiter.hit(self._per_host, "document-host", host)


class RegistrationLimits:
    """Client registrations per client IP (`TOKEN_SERVICE_REGISTRATION_RATE_LIMIT`): each one is a row."""

    def __init__(self, limiter: RateLimiter, *, per_ip: str) -> None:
        self._limiter = limiter
        self._per_ip = parse_limit(per_ip)

    async def check(self, ip: str) -> int | None:
        return await self._limiter.hit(self._per_ip, "register-ip", ip)
