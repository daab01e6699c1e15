"""An upstream's signing keys (JWKS), fetched on first use and refetched when a token names an unknown kid."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from token_service.login.connectors.errors import InvalidIdTokenError, UpstreamUnavailableError
from token_service.login.connectors.fetch import get_json


class UpstreamJwks:
    """No refetch cooldown is needed: ID tokens arrive from the token endpoint over TLS, not from
    the browser, so only the upstream itself can present an unknown kid."""

    def __init__(self, http: httpx.AsyncClient, upstream: str, jwks_uri: Callable[[], Awaitable[str]]) -> None:
        self._http = http
        self._upstream = upstream
        self._jwks_uri = jwks_uri
        self._keys: list[Key] | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> list[Key]:
        uri = await self._jwks_uri()
        document = await get_json(self._http, self._upstream, uri, "JWKS")
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise UpstreamUnavailableError(self._upstream, f"the JWKS at {uri} has no `keys` list")
        try:
            key_set = KeySet.import_key_set({"keys": [k for k in document["keys"] if isinstance(k, dict)]})
        except (JoseError, ValueError, TypeError) as exc:
            raise UpstreamUnavailableError(self._upstream, f"the JWKS at {uri} holds a key that cannot be read ({exc})") from None
        # Encryption keys are not for verifying signatures (RFC 7517 §4.2).
        return [key for key in key_set if key.get("use") in (None, "sig")]

    async def key_for(self, kid: str | None, alg: str) -> Key:
        async with self._lock:
            if self._keys is None:
                self._keys = await self._fetch()
            key = _pick(self._keys, kid, alg)
            if key is None:
                self._keys = await self._fetch()
                key = _pick(self._keys, kid, alg)
        if key is None:
            named = f"kid {kid!r}" if kid is not None else "no kid"
            raise InvalidIdTokenError(self._upstream, f"the ID token names {named} with alg {alg}, and no such key is in the upstream's JWKS")
        return key


def _pick(keys: list[Key], kid: str | None, alg: str) -> Key | None:
    # A key that declares an `alg` may only be used with that algorithm (RFC 7517 §4.4).
    usable = [k for k in keys if k.get("alg") in (None, alg)]
    if kid is not None:
        return next((k for k in usable if k.kid == kid), None)
    return usable[0] if len(usable) == 1 else None
