"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client_id
that is an https URL names the client's own metadata, served at that URL.

The document is fetched through the SSRF-safe outbound fetcher, validated by the shared
client model (clients/metadata.py) plus the draft's rules (§4: `client_id` equals the URL,
no shared secret, so a public client unless it registers keys for private_key_jwt), and
cached by its Cache-Control within bounds. Until the cached copy expires, the client is
what the document said when fetched: a document that changes its redirect URIs takes
effect only then. A refused document is remembered briefly too, so a broken client cannot
make every request a fetch.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from cachetools import LRUCache

from shared.jwks.policy import CachePolicy
from token_service.clients.metadata import InvalidClientMetadata
from token_service.clients.models import Client
from token_service.clock import Clock, system_clock
from token_service.outbound import FetchPolicy, OutboundError, OutboundFetcher
from token_service.outbound.addresses import url_problem
from token_service.ratelimit import DocumentFetchLimits
from token_service.registration.fields import self_described_metadata

log = logging.getLogger("token_service.clients")

# The draft (§6.6) suggests a small limit; a client's metadata is well under 5 KB.
DOCUMENT_POLICY = FetchPolicy(max_bytes=5 * 1024, timeout=5.0, accept="application/json", what="the client metadata document")
DOCUMENT_CACHE = CachePolicy(min_ttl=60, max_ttl=86400, default_ttl=300, error_backoff=10)
DOCUMENT_AUTH_METHODS = ("none", "private_key_jwt")


class ClientDocumentRefused(Exception):
    """The client's metadata document cannot be used; `reason` says why, for the client's developer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_document_url(client_id: str) -> bool:
    return client_id.startswith(("https://", "http://"))


def document_url_problem(url: str, *, allow_http: bool) -> str | None:
    """The draft's §3 rules for the URL itself (the fetcher re-checks addresses)."""
    problem = url_problem(url, allow_private=True, allow_http=allow_http)
    if problem is not None:
        return problem
    path = urlsplit(url).path
    if path in ("", "/"):
        return f"{url!r} has no path; a client ID metadata document URL names a document, e.g. https://app.example.com/client.json"
    if any(segment in (".", "..") for segment in path.split("/")):
        return f"{url!r} has a '.' or '..' path segment"
    return None


def client_from_document(url: str, data: dict[str, object]) -> Client:
    """The client a fetched document describes; raises ClientDocumentRefused naming the field."""
    stated = data.get("client_id")
    if stated != url:
        raise ClientDocumentRefused(f"the document at {url} says client_id {str(stated)[:200]!r}; it must be exactly the URL it is served at")
    for name in ("client_secret", "client_secret_expires_at", "client_secret_hash"):
        if name in data:
            raise ClientDocumentRefused(f"the document at {url} contains {name}; a metadata document is public and cannot carry a secret")
    method = data.get("token_endpoint_auth_method", "none")
    if method not in DOCUMENT_AUTH_METHODS:
        raise ClientDocumentRefused(
            f"the document at {url} asks for token_endpoint_auth_method {str(method)[:40]!r}; "
            "a metadata document client uses 'none' (public, PKCE) or 'private_key_jwt' with jwks or jwks_uri"
        )
    body = {k: v for k, v in data.items() if k not in ("client_id",)}
    body["token_endpoint_auth_method"] = method
    try:
        metadata = self_described_metadata(body, client_id=url, client_secret=None, default_grants=["authorization_code"])
    except InvalidClientMetadata as exc:
        raise ClientDocumentRefused(f"the document at {url} is not valid client metadata: " + "; ".join(p.text for p in exc.problems)) from None
    return Client.from_metadata(metadata, None, source="metadata-document")


@dataclass
class _Entry:
    expires_at: float
    client: Client | None = None
    refusal: ClientDocumentRefused | None = None


class ClientDocuments:
    def __init__(
        self,
        fetcher: OutboundFetcher,
        policy: FetchPolicy,
        *,
        cache: CachePolicy = DOCUMENT_CACHE,
        clock: Clock = system_clock,
        max_entries: int = 2000,
        fetch_limits: DocumentFetchLimits | None = None,
    ) -> None:
        self._fetch_limits = fetch_limits
        self._fetcher = fetcher
        self._policy = policy
        self._cache = cache
        self._clock = clock
        # Bounded: anyone can name a new URL in /authorize.
        self._entries: LRUCache[str, _Entry] = LRUCache(maxsize=max_entries)
        self._loading: dict[str, asyncio.Future[_Entry]] = {}

    @classmethod
    def for_settings(
        cls, fetcher: OutboundFetcher, *, allow_private_urls: bool, clock: Clock, fetch_limits: DocumentFetchLimits | None = None
    ) -> ClientDocuments:
        return cls(fetcher, replace(DOCUMENT_POLICY, allow_private=allow_private_urls), clock=clock, fetch_limits=fetch_limits)

    def origins(self) -> frozenset[str]:
        """Redirect URI origins of the documents in the cache: CORS admits them at /token."""
        return frozenset(o for entry in list(self._entries.values()) if entry.client is not None for o in entry.client.origins())

    async def client(self, url: str) -> Client:
        entry = self._entries.get(url)
        if entry is None or self._clock() >= entry.expires_at:
            pending = self._loading.get(url)
            if pending is None:
                # One fetch per URL at a time; concurrent requests for it wait for that one.
                pending = asyncio.ensure_future(self._load(url))
                self._loading[url] = pending
                pending.add_done_callback(lambda _: self._loading.pop(url, None))
            entry = await asyncio.shield(pending)
        if entry.refusal is not None:
            raise entry.refusal
        assert entry.client is not None
        return entry.client

    async def _load(self, url: str) -> _Entry:
        allow_http = self._policy.allow_private if self._policy.allow_http is None else self._policy.allow_http
        problem = document_url_problem(url, allow_http=allow_http)
        try:
            if problem is not None:
                raise ClientDocumentRefused(f"client_id {problem}")
            await self._within_budget(url)
            try:
                document = await self._fetcher.fetch_json(url, self._policy)
            except OutboundError as exc:
                raise ClientDocumentRefused(exc.reason) from None
            entry = _Entry(self._clock() + self._cache.ttl_from(document.cache_control), client=client_from_document(url, document.data))
        except ClientDocumentRefused as exc:
            log.warning("client metadata document refused", extra={"client_id": url[:200], "reason": exc.reason})
            entry = _Entry(self._clock() + self._cache.error_backoff, refusal=exc)
        self._entries[url] = entry
        return entry

    async def _within_budget(self, url: str) -> None:
        if self._fetch_limits is None:
            return
        host = (urlsplit(url).hostname or "").lower()
        wait = await self._fetch_limits.check(host)
        if wait is not None:
            raise ClientDocumentRefused(f"too many client metadata documents were fetched from {host} just now; retry in {wait} s")
