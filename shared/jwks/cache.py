"""`JwksCache`: one issuer's signing keys, held for every request of a process.

One `JwksCache` per issuer per process. It is shared by every request, so it is
careful about load on the issuer: concurrent cold requests share one fetch, a
token with an unknown `kid` triggers at most one refetch per cooldown, and a
failing issuer does not take the resource server down while the last good key
set is still recent enough (stale-on-error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from joserfc.jwk import RSAKey

from ..errors import InvalidToken, KeySetUnavailable
from .fetch import Fetched, JwksFetcher
from .key_set import KeySet
from .policy import CachePolicy

__all__ = ["JwksCache", "JwksStatus"]

logger = logging.getLogger("shared.jwks")

@dataclass(frozen=True, slots=True)
class JwksStatus:
    """What the cache knows, for readiness probes and `token-service doctor`."""

    issuer: str
    jwks_uri: str | None
    loaded: bool
    key_ids: tuple[str, ...]
    fetched_at: float | None
    """Wall-clock time of the last successful fetch or 304 revalidation."""
    expires_in: float | None
    """Seconds until the key set is past its max-age (negative: serving stale)."""
    last_error: str | None
    fetch_count: int
    not_modified_count: int


class JwksCache:
    """Signing keys of one issuer, found via `{issuer}/.well-known/openid-configuration`."""

    def __init__(
        self,
        issuer: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        unknown_kid_cooldown: float = 30,
        min_ttl: float = 60,
        max_ttl: float = 86400,
        default_ttl: float = 300,
        max_stale: float = 86400,
        refresh_ahead: float = 0.1,
        error_backoff: float = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.policy = CachePolicy(
            unknown_kid_cooldown=unknown_kid_cooldown,
            min_ttl=min_ttl,
            max_ttl=max_ttl,
            default_ttl=default_ttl,
            max_stale=max_stale,
            refresh_ahead=refresh_ahead,
            error_backoff=error_backoff,
        )
        self._owns_client = http_client is None
        self._fetcher = JwksFetcher(issuer, http_client or httpx.AsyncClient(timeout=5.0, follow_redirects=False))
        self._max_stale = max_stale
        self._clock = clock

        self._key_set: KeySet | None = None
        self._ttl = default_ttl
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._fetched_at_wall: float | None = None
        self._last_unknown_kid_refetch: float | None = None
        self._last_error: KeySetUnavailable | None = None
        self._retry_at = 0.0
        self._inflight: asyncio.Task[None] | None = None

    @property
    def fetch_count(self) -> int:
        """JWKS requests sent (each 200 or 304 or failure counts once)."""
        return self._fetcher.requests

    @property
    def not_modified_count(self) -> int:
        """JWKS requests answered 304 Not Modified."""
        return self._fetcher.not_modified

    # ---- reading keys -------------------------------------------------------------

    async def get_key(self, kid: str | None) -> RSAKey:
        """The verification key for a token's `kid` header.

        Raises InvalidToken (rule "kid") when the key is not in the set, and
        KeySetUnavailable when no usable key set can be loaded.
        """
        now = self._clock()
        if self._key_set is None or now >= self._refresh_at:
            await self._freshen(now)
        key = self._lookup(kid)
        if key is None and kid is not None and await self._refetch_for_unknown_kid():
            key = self._lookup(kid)
        if key is not None:
            return key
        raise InvalidToken(self._missing_key_reason(kid), rule="kid")

    def has_key(self, kid: str) -> bool:
        """Whether `kid` is in the cached set, without fetching (for diagnostics)."""
        return self._key_set is not None and kid in self._key_set.keys

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._key_set.keys) if self._key_set is not None else ()

    @property
    def jwks_uri(self) -> str | None:
        return self._fetcher.jwks_uri

    @property
    def is_loaded(self) -> bool:
        """A key set is held and is not older than max-age plus max_stale."""
        return self._key_set is not None and self._clock() <= self._expires_at + self._max_stale

    @property
    def last_error(self) -> str | None:
        return self._last_error.reason if self._last_error is not None else None

    @property
    def pending_refresh(self) -> asyncio.Task[None] | None:
        """The fetch in flight, if any (lets tests and shutdown wait for it)."""
        return self._inflight

    def status(self) -> JwksStatus:
        return JwksStatus(
            issuer=self.issuer,
            jwks_uri=self._fetcher.jwks_uri,
            loaded=self.is_loaded,
            key_ids=self.key_ids,
            fetched_at=self._fetched_at_wall,
            expires_in=(self._expires_at - self._clock()) if self._key_set is not None else None,
            last_error=self.last_error,
            fetch_count=self.fetch_count,
            not_modified_count=self.not_modified_count,
        )

    # ---- loading ----------------------------------------------------------------

    async def ensure_loaded(self) -> None:
        """Load the key set unless a usable one is held; raises KeySetUnavailable."""
        if not self.is_loaded:
            await self.refresh()

    async def refresh(self) -> None:
        """Fetch now, sharing a fetch already in flight; raises KeySetUnavailable.

        Right after a failed fetch this raises the same error without asking the
        issuer again for `error_backoff` seconds, so a down issuer is not hammered
        by every incoming request.
        """
        task = self._inflight
        if task is None:
            if self._last_error is not None and self._clock() < self._retry_at:
                raise self._last_error
            task = self._start_fetch()
        # shield: one caller giving up (request cancelled) must not cancel the fetch
        # the other waiters share.
        await asyncio.shield(task)

    async def keep_fresh(self) -> None:
        """Run forever, loading the set and refreshing it ahead of expiry.

        Meant as a background task of a service, so readiness stays true while the
        service is idle and requests rarely wait on the issuer.
        """
        while True:
            # A failure is logged by _fetch; the loop tries again after the backoff.
            with contextlib.suppress(KeySetUnavailable):
                await self.refresh()
            now = self._clock()
            if self._last_error is not None and self._retry_at > now:
                delay = self._retry_at - now
            else:
                delay = self._refresh_at - now
            await asyncio.sleep(max(delay, 0.05))

    async def aclose(self) -> None:
        task = self._inflight
        if task is not None:
            task.cancel()
        if self._owns_client:
            await self._fetcher.client.aclose()

    # ---- internals --------------------------------------------------------------

    def _lookup(self, kid: str | None) -> RSAKey | None:
        key_set = self._key_set
        if key_set is None:
            return None
        if kid is None:
            # Without a kid the choice is only unambiguous for a single-key set.
            if len(key_set.keys) == 1:
                return next(iter(key_set.keys.values()))
            return None
        return key_set.keys.get(kid)

    def _missing_key_reason(self, kid: str | None) -> str:
        known = ", ".join(self.key_ids) or "none"
        if kid is None:
            return (
                f"the token has no kid header and the JWKS of {self.issuer} holds {len(self.key_ids)} keys "
                f"({known}); the issuer must name the signing key"
            )
        # The kid comes from the token: shorten it, so a hostile one cannot flood logs or headers.
        shown = repr(kid) if len(kid) <= 80 else repr(kid[:77]) + "..."
        return f"kid {shown} is not in the JWKS of {self.issuer} (known kids: {known})"

    async def _freshen(self, now: float) -> None:
        if self._key_set is None or now > self._expires_at + self._max_stale:
            await self.refresh()
        elif self._inflight is None and not (self._last_error is not None and now < self._retry_at):
            # Past the refresh-ahead point (possibly past max-age, within max_stale):
            # serve the held keys now and revalidate in the background.
            self._start_fetch()

    async def _refetch_for_unknown_kid(self) -> bool:
        """Refetch once per cooldown so a new signing key is picked up quickly,
        without letting a flood of made-up kids turn into a flood of fetches."""
        if self._inflight is None:
            now = self._clock()
            last = self._last_unknown_kid_refetch
            if last is not None and now - last < self.policy.unknown_kid_cooldown:
                return False
            self._last_unknown_kid_refetch = now
        try:
            await self.refresh()
        except KeySetUnavailable:
            return False
        return True

    def _start_fetch(self) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._fetch())
        self._inflight = task
        task.add_done_callback(self._fetch_finished)
        return task

    def _fetch_finished(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here so a background failure is not reported as unhandled

    async def _fetch(self) -> None:
        try:
            await self._fetch_once()
        except KeySetUnavailable as exc:
            self._last_error = exc
            self._retry_at = self._clock() + self.policy.error_backoff
            if self._key_set is not None and self._clock() <= self._expires_at + self._max_stale:
                logger.warning("JWKS refresh for %s failed, serving the previous key set: %s", self.issuer, exc.reason)
            else:
                logger.error("JWKS for %s unavailable: %s", self.issuer, exc.reason)
            raise
        self._last_error = None

    async def _fetch_once(self) -> None:
        fetched = await self._fetcher.fetch(self._key_set)
        self._mark_fresh(fetched)
        if not fetched.not_modified:
            logger.info("loaded JWKS of %s: kids %s", self.issuer, ", ".join(fetched.key_set.keys) or "none")

    def _mark_fresh(self, fetched: Fetched) -> None:
        # A 304 without Cache-Control keeps the TTL the set was fetched with.
        if fetched.cache_control is not None or not fetched.not_modified:
            self._ttl = self.policy.ttl_from(fetched.cache_control)
        self._key_set = fetched.key_set
        now = self._clock()
        self._expires_at = now + self._ttl
        self._refresh_at = now + self.policy.refresh_after(self._ttl)
        self._fetched_at_wall = time.time()
