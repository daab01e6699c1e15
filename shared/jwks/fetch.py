"""Asking the issuer for its key set: discovery once, then conditional GETs."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ..discovery import discover_jwks_uri, parse_json_object
from ..errors import KeySetUnavailable
from .key_set import KeySet, import_key_set

__all__ = ["Fetched", "JwksFetcher"]


@dataclass(frozen=True, slots=True)
class Fetched:
    key_set: KeySet
    cache_control: str | None
    not_modified: bool
    """A 304: `key_set` is the one held before, revalidated."""


class JwksFetcher:
    """One issuer's JWKS endpoint, found via `{issuer}/.well-known/openid-configuration`."""

    def __init__(self, issuer: str, client: httpx.AsyncClient) -> None:
        self.issuer = issuer
        self.client = client
        self.jwks_uri: str | None = None
        self._etag: str | None = None
        self.requests = 0
        """JWKS requests sent (each 200 or 304 or failure counts once)."""
        self.not_modified = 0
        """JWKS requests answered 304 Not Modified."""

    async def fetch(self, held: KeySet | None) -> Fetched:
        """The current key set (revalidating `held` when there is one); raises KeySetUnavailable."""
        if self.jwks_uri is None:
            self.jwks_uri = await discover_jwks_uri(self.client, self.issuer)
        headers = {"Accept": "application/jwk-set+json, application/json"}
        if self._etag is not None and held is not None:
            headers["If-None-Match"] = self._etag
        self.requests += 1
        try:
            response = await self.client.get(self.jwks_uri, headers=headers)
        except httpx.HTTPError as exc:
            raise KeySetUnavailable(f"could not reach {self.jwks_uri}: {type(exc).__name__} {exc}".rstrip()) from exc

        cache_control = response.headers.get("cache-control")
        if response.status_code == 304 and held is not None:
            self.not_modified += 1
            return Fetched(held, cache_control, not_modified=True)
        if response.status_code != 200:
            raise KeySetUnavailable(f"the JWKS endpoint {self.jwks_uri} answered HTTP {response.status_code}")
        document = parse_json_object(response, "the JWKS")
        key_set = import_key_set(document, issuer=self.issuer, jwks_uri=self.jwks_uri, previous=held)
        self._etag = response.headers.get("etag")
        return Fetched(key_set, cache_control, not_modified=False)
