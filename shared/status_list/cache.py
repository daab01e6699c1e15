"""`StatusListCache`: the issuer's status lists, held per URI for every request of a process.

Lists are fetched only from the issuer's own origin: a token naming any other URL is
refused without a request (a token must not make an API call out to a place it chooses).
Each list is kept for its `ttl` (bounded by `min_ttl`/`max_ttl`); concurrent requests for a
list share one fetch; past `refresh_ahead` of the ttl the held list keeps answering while a
refetch runs; when refetching fails, the held list answers for at most `max_stale` more
seconds, then tokens pointing at it are refused ("status could not be checked").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..discovery import parse_json_object, read_metadata
from ..errors import KeySetUnavailable, StatusUnavailable
from ..rules import KeyResolver
from .token import STATUS_LIST_TYP, StatusListRefused, VerifiedStatusList, verify_status_list_token

__all__ = ["HeldStatusList", "StatusListCache", "StatusUnavailable"]

logger = logging.getLogger("shared.status_list")


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


@dataclass(slots=True)
class HeldStatusList:
    verified: VerifiedStatusList
    etag: str | None
    refresh_at: float
    fresh_until: float
    usable_until: float
    """Monotonic: fresh_until plus max_stale, capped by the list token's own exp."""


class StatusListCache:
    def __init__(
        self,
        keys: KeyResolver,
        *,
        http_client: httpx.AsyncClient | None = None,
        max_stale: float = 60,
        min_ttl: float = 1,
        max_ttl: float = 3600,
        default_ttl: float = 60,
        refresh_ahead: float = 0.8,
        error_backoff: float = 1,
        max_bytes: int = 4 * 1024 * 1024,
        max_lists: int = 64,
        leeway: float = 30,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.origin = origin_of(keys.issuer)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self.max_stale = max_stale
        self._min_ttl, self._max_ttl, self._default_ttl = min_ttl, max_ttl, default_ttl
        self._refresh_ahead = refresh_ahead
        self._error_backoff = error_backoff
        self.max_bytes = max_bytes
        self._max_lists = max_lists
        self._leeway = leeway
        self._clock = clock
        self._wall_clock = wall_clock
        self._held: dict[str, HeldStatusList] = {}
        self._inflight: dict[str, asyncio.Task[HeldStatusList]] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self.fetch_count = 0

    def fresh(self, uri: str) -> HeldStatusList | None:
        """The list if it is held and not due for a refetch: the hot path, no await."""
        held = self._held.get(uri)
        if held is not None and self._clock() < held.refresh_at:
            return held
        return None

    def refuses(self, uri: str) -> str | None:
        """Why a list at `uri` is never fetched (None: it may be)."""
        if len(uri) > 2048:
            return "status list uri is too long"
        if self.origin is None or origin_of(uri) != self.origin:
            return f"status list uri {uri[:120]!r} is not on the issuer's origin {self.origin}; it is not fetched"
        return None

    async def get(self, uri: str) -> HeldStatusList:
        """The list at `uri`, fetched when needed; raises StatusUnavailable."""
        refused = self.refuses(uri)
        if refused is not None:
            raise StatusUnavailable(refused)
        now = self._clock()
        held = self._held.get(uri)
        if held is not None and now < held.refresh_at:
            return held
        if held is not None and now < held.fresh_until:
            self._start(uri)  # refresh ahead: this request keeps the held list
            return held
        failed = self._failed.get(uri)
        if failed is not None and now < failed[0] and uri not in self._inflight:
            return self._stale_or_raise(uri, failed[1], now)
        try:
            return await asyncio.shield(self._start(uri))
        except StatusUnavailable as exc:
            return self._stale_or_raise(uri, exc.reason, self._clock())

    def _stale_or_raise(self, uri: str, reason: str, now: float) -> HeldStatusList:
        held = self._held.get(uri)
        if held is not None and now < held.usable_until:
            return held
        raise StatusUnavailable(reason)

    def _start(self, uri: str) -> asyncio.Task[HeldStatusList]:
        task = self._inflight.get(uri)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(uri))
            self._inflight[uri] = task
            task.add_done_callback(lambda done: self._finished(uri, done))
        return task

    def _finished(self, uri: str, task: asyncio.Task[HeldStatusList]) -> None:
        if self._inflight.get(uri) is task:
            del self._inflight[uri]
        if not task.cancelled():
            task.exception()  # retrieved: a background refetch's failure is logged, not "never retrieved"

    async def _fetch(self, uri: str) -> HeldStatusList:
        try:
            held = await self._fetch_once(uri)
        except StatusUnavailable as exc:
            self._failed[uri] = (self._clock() + self._error_backoff, exc.reason)
            if len(self._failed) > 4 * self._max_lists:
                self._failed.pop(next(iter(self._failed)))
            logger.warning("status list %s unavailable: %s", uri, exc.reason)
            raise
        self._failed.pop(uri, None)
        if uri not in self._held and len(self._held) >= self._max_lists:
            # A flood of distinct list URIs must not grow memory: the longest-held goes.
            self._held.pop(next(iter(self._held)))
        self._held[uri] = held
        return held

    async def _fetch_once(self, uri: str) -> HeldStatusList:
        previous = self._held.get(uri)
        headers = {"Accept": f"application/{STATUS_LIST_TYP}"}
        if previous is not None and previous.etag:
            headers["If-None-Match"] = previous.etag
        self.fetch_count += 1
        try:
            async with self._client.stream("GET", uri, headers=headers) as response:
                if response.status_code == 304 and previous is not None:
                    return self._held_for(previous.verified, previous.etag, response.headers.get("cache-control"))
                if response.status_code != 200:
                    raise StatusUnavailable(f"GET {uri} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > 2 * self.max_bytes + 65536:
                        raise StatusUnavailable(f"the status list at {uri} is larger than this verifier accepts")
                etag = response.headers.get("etag")
                cache_control = response.headers.get("cache-control")
        except httpx.HTTPError as exc:
            raise StatusUnavailable(f"GET {uri} failed: {type(exc).__name__}") from None
        try:
            verified = await verify_status_list_token(
                body.decode("ascii", "replace").strip(), uri, self.keys, now=self._wall_clock(), leeway=self._leeway, max_bytes=self.max_bytes
            )
        except StatusListRefused as exc:
            raise StatusUnavailable(exc.reason) from None
        return self._held_for(verified, etag, cache_control)

    def _held_for(self, verified: VerifiedStatusList, etag: str | None, cache_control: str | None) -> HeldStatusList:
        ttl = verified.ttl if verified.ttl is not None else _max_age(cache_control) or self._default_ttl
        ttl = min(max(ttl, self._min_ttl), self._max_ttl)
        now = self._clock()
        usable_until = now + ttl + self.max_stale
        if verified.exp is not None:
            usable_until = min(usable_until, now + (verified.exp + self._leeway - self._wall_clock()))
        return HeldStatusList(verified, etag, now + ttl * self._refresh_ahead, now + ttl, usable_until)

    async def prefetch(self, uris: list[str]) -> None:
        """Loads lists before tokens need them (the aggregation endpoint names them)."""
        for uri in uris[: self._max_lists]:
            if self.refuses(uri) is None:
                try:
                    await self.get(uri)
                except StatusUnavailable:
                    pass

    async def aggregated_uris(self) -> list[str]:
        """The lists the issuer's `status_list_aggregation_endpoint` names (draft §9.3); [] without one."""
        _, metadata = await read_metadata(self._client, self.keys.issuer)
        endpoint = metadata.get("status_list_aggregation_endpoint")
        if not isinstance(endpoint, str) or self.refuses(endpoint) is not None:
            return []
        response = await self._client.get(endpoint, headers={"Accept": "application/json"})
        listed = parse_json_object(response, "status list aggregation").get("status_lists")
        return [uri for uri in listed if isinstance(uri, str)] if isinstance(listed, list) else []

    async def keep_warm(self, interval: float = 5.0) -> None:
        """Run forever: prefetch the issuer's current lists, so requests seldom wait for one."""
        while True:
            try:
                await self.prefetch(await self.aggregated_uris())
            except (httpx.HTTPError, KeySetUnavailable) as exc:
                logger.info("status list prefetch from %s skipped: %s", self.keys.issuer, exc)
            await asyncio.sleep(interval)

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._owns_client:
            await self._client.aclose()


def _max_age(cache_control: str | None) -> float | None:
    for directive in (cache_control or "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return float(value)
    return None
