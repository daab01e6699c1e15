"""Clients' key sets fetched from their `jwks_uri`, cached the way `shared.JwksCache`
caches an issuer's: Cache-Control within bounds, one fetch per URL at a time, one
refetch per cooldown for an unknown `kid` (a client that just rotated), and the last
good set served for a bounded time while the client's server fails."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import LRUCache

from shared.jwks.policy import CachePolicy

from token_service.clients.key_set import ClientKey, ClientKeySet
from token_service.outbound.fetcher import FetchPolicy, OutboundError, OutboundFetcher

log = logging.getLogger("token_service.clients")

# The issuer-key cache's policy, tighter: a client's withdrawn key should stop working
# within the hour, and a client's server is allowed less stale time than an issuer.
CLIENT_KEY_CACHE = CachePolicy(min_ttl=60, max_ttl=3600, default_ttl=300, max_stale=3600, unknown_kid_cooldown=30, error_backoff=5)


@dataclass
class _Entry:
    key_set: ClientKeySet | None = None
    expires_at: float = 0.0
    last_kid_refetch: float | None = None
    error: OutboundError | None = None
    retry_at: float = 0.0
    inflight: asyncio.Task[ClientKeySet] | None = field(default=None, repr=False)


class KeyNotFound(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClientJwksCache:
    def __init__(
        self,
        fetcher: OutboundFetcher,
        policy: FetchPolicy,
        *,
        cache: CachePolicy = CLIENT_KEY_CACHE,
        max_entries: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._policy = policy
        self._cache = cache
        self._clock = clock
        # Bounded: client ids are registered, but a flood of registrations must not grow memory without end.
        self._entries: LRUCache[str, _Entry] = LRUCache(maxsize=max_entries)
        self.fetch_count = 0

    async def key_set(self, uri: str) -> ClientKeySet:
        """The client's current key set; raises OutboundError when none can be had."""
        entry = self._entries.get(uri)
        if entry is None:
            entry = self._entries[uri] = _Entry()
        now = self._clock()
        if entry.key_set is not None and now < entry.expires_at:
            return entry.key_set
        try:
            return await self._refresh(uri, entry)
        except OutboundError:
            if entry.key_set is not None and now <= entry.expires_at + self._cache.max_stale:
                return entry.key_set  # stale-on-error, bounded by max_stale
            raise

    async def key_for(self, uri: str, kid: str | None) -> ClientKey:
        """The key the assertion names; an unknown kid refetches once per cooldown, then KeyNotFound."""
        key_set = await self.key_set(uri)
        key = key_set.select(kid)
        if key is None and kid is not None:
            entry = self._entries.get(uri) or _Entry()
            now = self._clock()
            if entry.inflight is not None or entry.last_kid_refetch is None or now - entry.last_kid_refetch >= self._cache.unknown_kid_cooldown:
                entry.last_kid_refetch = now
                try:
                    key_set = await self._refresh(uri, entry, force=True)
                except OutboundError as exc:
                    raise KeyNotFound(f"kid {kid[:80]!r} is not in the client's JWKS at {uri}, and refetching it failed: {exc.reason}") from None
                key = key_set.select(kid)
        if key is not None:
            return key
        if kid is None:
            raise KeyNotFound(
                f"the assertion has no kid header and the client's JWKS at {uri} holds {len(key_set.keys)} usable keys; name the key with kid"
            )
        ignored = f"; ignored: {'; '.join(key_set.ignored)}" if key_set.ignored else ""
        raise KeyNotFound(f"kid {kid[:80]!r} is not in the client's JWKS at {uri} (kids there: {key_set.describe_kids()}){ignored}")

    async def _refresh(self, uri: str, entry: _Entry, *, force: bool = False) -> ClientKeySet:
        task = entry.inflight
        if task is None:
            if entry.error is not None and self._clock() < entry.retry_at and not force:
                raise entry.error
            task = entry.inflight = asyncio.get_running_loop().create_task(self._fetch(uri, entry))
            task.add_done_callback(lambda done: self._finished(entry, done))
        # shield: a caller that goes away must not cancel the fetch other callers share.
        return await asyncio.shield(task)

    @staticmethod
    def _finished(entry: _Entry, task: asyncio.Task[ClientKeySet]) -> None:
        if entry.inflight is task:
            entry.inflight = None
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited is not reported as unhandled

    async def _fetch(self, uri: str, entry: _Entry) -> ClientKeySet:
        self.fetch_count += 1
        try:
            document = await self._fetcher.fetch_json(uri, self._policy)
        except OutboundError as exc:
            entry.error = exc
            entry.retry_at = self._clock() + self._cache.error_backoff
            log.warning("client JWKS fetch failed", extra={"jwks_uri": uri, "reason": exc.reason})
            raise
        key_set = ClientKeySet.from_document(document.data, f"the client's JWKS at {uri}")
        entry.key_set = key_set
        entry.expires_at = self._clock() + self._cache.ttl_from(document.cache_control)
        entry.error = None
        return key_set
