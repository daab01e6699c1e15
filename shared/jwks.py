"""The issuer's signing keys, fetched by discovery and cached the way HTTP caching intends.

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
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .discovery import discover_jwks_uri, parse_json_object
from .errors import InvalidToken, KeySetUnavailable

__all__ = ["JwksCache", "JwksStatus"]

logger = logging.getLogger(__name__)

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)
_PRIVATE_RSA_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
_MIN_RSA_BITS = 2048


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


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: Mapping[str, RSAKey]
    material: Mapping[str, tuple[tuple[str, Any], ...]]
    """Per kid, the public JWK members the key was imported from, to reuse it unchanged."""


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
        if not 0 <= refresh_ahead < 1:
            raise ValueError("refresh_ahead is a fraction of the TTL in [0, 1)")
        if min_ttl > max_ttl:
            raise ValueError("min_ttl must not exceed max_ttl")
        self.issuer = issuer
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self._unknown_kid_cooldown = unknown_kid_cooldown
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._default_ttl = default_ttl
        self._max_stale = max_stale
        self._refresh_ahead = refresh_ahead
        self._error_backoff = error_backoff
        self._clock = clock

        self._jwks_uri: str | None = None
        self._key_set: _KeySet | None = None
        self._etag: str | None = None
        self._ttl = default_ttl
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._fetched_at_wall: float | None = None
        self._last_unknown_kid_refetch: float | None = None
        self._last_error: KeySetUnavailable | None = None
        self._retry_at = 0.0
        self._inflight: asyncio.Task[None] | None = None

        self.fetch_count = 0
        """JWKS requests sent (each 200 or 304 or failure counts once)."""
        self.not_modified_count = 0
        """JWKS requests answered 304 Not Modified."""

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
        return self._jwks_uri

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
            jwks_uri=self._jwks_uri,
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
            await self._client.aclose()

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
            if last is not None and now - last < self._unknown_kid_cooldown:
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
            self._retry_at = self._clock() + self._error_backoff
            if self._key_set is not None and self._clock() <= self._expires_at + self._max_stale:
                logger.warning("JWKS refresh for %s failed, serving the previous key set: %s", self.issuer, exc.reason)
            else:
                logger.error("JWKS for %s unavailable: %s", self.issuer, exc.reason)
            raise
        self._last_error = None

    async def _fetch_once(self) -> None:
        if self._jwks_uri is None:
            self._jwks_uri = await discover_jwks_uri(self._client, self.issuer)
        headers = {"Accept": "application/jwk-set+json, application/json"}
        if self._etag is not None and self._key_set is not None:
            headers["If-None-Match"] = self._etag
        self.fetch_count += 1
        try:
            response = await self._client.get(self._jwks_uri, headers=headers)
        except httpx.HTTPError as exc:
            raise KeySetUnavailable(f"could not reach {self._jwks_uri}: {type(exc).__name__} {exc}".rstrip()) from exc

        if response.status_code == 304 and self._key_set is not None:
            self.not_modified_count += 1
            self._mark_fresh(response, keep_ttl_without_header=True)
            return
        if response.status_code != 200:
            raise KeySetUnavailable(f"the JWKS endpoint {self._jwks_uri} answered HTTP {response.status_code}")
        document = parse_json_object(response, "the JWKS")
        self._key_set = self._import_key_set(document)
        self._etag = response.headers.get("etag")
        self._mark_fresh(response, keep_ttl_without_header=False)
        logger.info("loaded JWKS of %s: kids %s", self.issuer, ", ".join(self._key_set.keys) or "none")

    def _mark_fresh(self, response: httpx.Response, *, keep_ttl_without_header: bool) -> None:
        cache_control = response.headers.get("cache-control")
        if cache_control is not None or not keep_ttl_without_header:
            self._ttl = self._ttl_from(cache_control)
        now = self._clock()
        self._expires_at = now + self._ttl
        self._refresh_at = now + self._ttl * (1 - self._refresh_ahead)
        self._fetched_at_wall = time.time()

    def _ttl_from(self, cache_control: str | None) -> float:
        ttl = self._default_ttl
        if cache_control:
            if _NO_CACHE.search(cache_control):
                ttl = self._min_ttl
            elif match := _MAX_AGE.search(cache_control):
                ttl = float(match.group(1))
        # Clamped both ways: a tiny max-age would make every request a fetch, a
        # huge one would keep a revoked key trusted for too long.
        return min(max(ttl, self._min_ttl), self._max_ttl)

    def _import_key_set(self, document: dict[str, Any]) -> _KeySet:
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise KeySetUnavailable(f"the JWKS at {self._jwks_uri} has no 'keys' list")
        previous = self._key_set
        keys: dict[str, RSAKey] = {}
        material: dict[str, tuple[tuple[str, Any], ...]] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not self._is_usable_signing_key(entry):
                continue
            public_members = tuple(sorted((k, v) for k, v in entry.items() if isinstance(v, (str, int, float, bool))))
            kid = entry.get("kid")
            if isinstance(kid, str) and kid in keys:
                logger.warning("JWKS of %s lists kid %r twice; using the first", self.issuer, kid)
                continue
            # Import each key once: reuse the object while its published members are unchanged.
            if previous is not None and isinstance(kid, str) and previous.material.get(kid) == public_members:
                key = previous.keys[kid]
            else:
                try:
                    key = RSAKey.import_key(entry)
                except (JoseError, ValueError, TypeError) as exc:
                    logger.warning("ignoring an unreadable key in the JWKS of %s: %s", self.issuer, exc)
                    continue
                if key.raw_value.key_size < _MIN_RSA_BITS:
                    logger.warning("ignoring kid %r of %s: RSA keys under %d bits", kid, self.issuer, _MIN_RSA_BITS)
                    continue
                key.ensure_kid()  # RFC 7638 thumbprint when the issuer gave none
            assert key.kid is not None
            keys[key.kid] = key
            material[key.kid] = public_members
        if not keys:
            logger.warning("the JWKS of %s holds no usable RSA signing key", self.issuer)
        return _KeySet(keys=keys, material=material)

    def _is_usable_signing_key(self, entry: dict[str, Any]) -> bool:
        if entry.get("kty") != "RSA":
            return False
        if entry.get("use", "sig") != "sig":
            return False
        key_ops = entry.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            return False
        if _PRIVATE_RSA_MEMBERS & entry.keys():
            # A published private key is compromised by definition; never trust it.
            logger.warning("ignoring kid %r of %s: the JWKS publishes private key members", entry.get("kid"), self.issuer)
            return False
        return True
