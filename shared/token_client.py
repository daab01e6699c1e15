"""Access tokens for service-to-service calls (OAuth 2.0 client_credentials, RFC 6749 §4.4).

`TokenClient` finds the token endpoint by discovery, proves the service's identity with a
private key (private_key_jwt, RFC 7523) or a client secret, caches one token per
(scope, resource) and renews it ahead of expiry, with concurrent callers sharing one
request. It is an `httpx.Auth`, so `httpx.AsyncClient(auth=token_client)` just works.

With `dpop_key` the tokens are DPoP-bound (RFC 9449): `prepare_token_request` adds a
proof for the token endpoint (retrying once with the server's nonce when asked, §8) and
`authorize` sends each API request as `Authorization: DPoP` with a fresh proof (§7).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from .discovery import read_metadata
from .dpop.builder import DPoPKey
from .errors import TokenRejected

__all__ = ["AccessToken", "TokenClient", "TokenRequestError"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PrivateKey = RSAKey | ECKey | OKPKey
_DEFAULT_ALG = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}


class TokenRequestError(Exception):
    """The token service refused or could not be reached; `description` is its error_description."""

    def __init__(self, error: str, description: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status_code = status_code


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    token_type: str
    expires_at: float
    scope: str | None

    def authorization(self) -> str:
        return f"{self.token_type} {self.access_token}"


def load_private_key(key: str | Path | Mapping[str, Any] | PrivateKey) -> PrivateKey:
    """A private JWK from a file path (as written by `token-service clients keygen`), a dict, or a key."""
    if isinstance(key, (RSAKey, ECKey, OKPKey)):
        loaded: Any = key
    else:
        data = json.loads(Path(key).read_text()) if isinstance(key, (str, Path)) else dict(key)
        try:
            loaded = JWKRegistry.import_key(data)
        except (JoseError, ValueError, TypeError) as exc:
            raise ValueError(f"the client key is not a usable private JWK: {exc}") from None
    if not isinstance(loaded, (RSAKey, ECKey, OKPKey)) or not loaded.is_private:
        raise ValueError("the client key must be a private RSA, EC or OKP JWK (the file `token-service clients keygen --out` wrote)")
    loaded.ensure_kid()
    return loaded


class TokenClient(httpx.Auth):
    """client_credentials tokens for one client of one issuer, cached and renewed ahead of expiry."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        *,
        private_key: str | Path | Mapping[str, Any] | PrivateKey | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        resource: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        renew_before: float = 60.0,
        assertion_lifetime: int = 60,
        clock: Callable[[], float] = time.time,
        dpop_key: DPoPKey | None = None,
    ) -> None:
        if (private_key is None) == (client_secret is None):
            raise ValueError("give exactly one of private_key (private_key_jwt) or client_secret")
        self.issuer = issuer
        self.client_id = client_id
        self.scope = scope
        self.resource = resource
        self._key = load_private_key(private_key) if private_key is not None else None
        self._alg = str(self._key.get("alg") or _DEFAULT_ALG[self._key.key_type]) if self._key is not None else None
        self._secret = client_secret
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=10.0)
        self._renew_before = renew_before
        self._assertion_lifetime = assertion_lifetime
        self._clock = clock
        self.dpop_key = dpop_key
        self._dpop_nonce: str | None = None
        self._token_endpoint: str | None = None
        self._cache: dict[tuple[str | None, str | None], AccessToken] = {}
        self._inflight: dict[tuple[str | None, str | None], asyncio.Task[AccessToken]] = {}

    # ---- tokens ----------------------------------------------------------------------

    async def token(self, scope: str | None = None, resource: str | None = None) -> AccessToken:
        """A valid token for (scope, resource), defaulting to the client's; fetched only when needed."""
        cache_key = (scope if scope is not None else self.scope, resource if resource is not None else self.resource)
        cached = self._cache.get(cache_key)
        if cached is not None and cached.expires_at - self._renew_before > self._clock():
            return cached
        task = self._inflight.get(cache_key)
        if task is None:
            # Single flight: callers arriving while a token is being fetched share that request.
            task = asyncio.get_running_loop().create_task(self._fetch(*cache_key))
            self._inflight[cache_key] = task
            task.add_done_callback(lambda _: self._inflight.pop(cache_key, None))
        token = await asyncio.shield(task)
        self._cache[cache_key] = token
        return token

    def forget(self, scope: str | None = None, resource: str | None = None) -> None:
        """Drop a cached token (the API said it is no longer valid)."""
        self._cache.pop((scope if scope is not None else self.scope, resource if resource is not None else self.resource), None)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> TokenClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- httpx.Auth -------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenClient is asynchronous: use it with httpx.AsyncClient(auth=...)")
        yield request  # pragma: no cover - makes this a generator as httpx expects

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        await self.authorize(request, token)
        response = yield request
        if response.status_code == 401 and 'error="invalid_token"' in response.headers.get("www-authenticate", ""):
            # Revoked or signed with a key the API has not seen yet: one retry with a new token.
            self.forget()
            await response.aread()
            token = await self.token()
            await self.authorize(request, token)
            yield request

    # ---- extension points (DPoP adds its proof here) ----------------------------------

    async def prepare_token_request(self, data: dict[str, str], headers: dict[str, str]) -> None:
        """Adds client authentication (and the DPoP proof) to a token request."""
        endpoint = await self.token_endpoint()
        if self._key is not None:
            data["client_assertion_type"] = JWT_BEARER
            data["client_assertion"] = self._assertion(endpoint)
        else:
            assert self._secret is not None
            data["client_id"] = self.client_id
            data["client_secret"] = self._secret
        if self.dpop_key is not None:
            headers["DPoP"] = self.dpop_key.proof("POST", endpoint, nonce=self._dpop_nonce)

    async def authorize(self, request: httpx.Request, token: AccessToken) -> None:
        """Puts the token on an outgoing API request; a DPoP token with a proof for this very request."""
        if token.token_type.lower() != "dpop":
            request.headers["Authorization"] = token.authorization()
            return
        if self.dpop_key is None:
            raise TokenRequestError("invalid_response", "the token service issued a DPoP-bound token, but this client has no dpop_key")
        request.headers["Authorization"] = f"DPoP {token.access_token}"
        request.headers["DPoP"] = self.dpop_key.proof(request.method, str(request.url), access_token=token.access_token)

    # ---- internals --------------------------------------------------------------------

    async def token_endpoint(self) -> str:
        if self._token_endpoint is None:
            try:
                url, metadata = await read_metadata(self._http, self.issuer)
            except TokenRejected as exc:
                raise TokenRequestError("discovery_failed", exc.reason) from None
            endpoint = metadata.get("token_endpoint")
            if not isinstance(endpoint, str):
                raise TokenRequestError("discovery_failed", f"the metadata at {url} names no token_endpoint")
            self._token_endpoint = endpoint
        return self._token_endpoint

    def _assertion(self, audience: str) -> str:
        assert self._key is not None and self._alg is not None
        # Wall time, not the injected clock: the server checks iat/exp against its own clock.
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + self._assertion_lifetime,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": self._alg, "kid": self._key.kid, "typ": "JWT"}
        return jws.serialize_compact(header, json.dumps(claims).encode(), self._key, algorithms=[self._alg])

    async def _post_token_request(self, endpoint: str, form: dict[str, str]) -> tuple[httpx.Response, Any]:
        """One token request with fresh client authentication (and proof); the response and its JSON body, or None."""
        data, headers = dict(form), {"Accept": "application/json"}
        await self.prepare_token_request(data, headers)
        try:
            response = await self._http.post(endpoint, data=data, headers=headers)
        except httpx.HTTPError as exc:
            raise TokenRequestError("unreachable", f"could not reach {endpoint}: {type(exc).__name__} {exc}".rstrip()) from None
        try:
            return response, response.json()
        except (ValueError, RecursionError):  # deep nesting raises RecursionError
            return response, None

    async def _fetch(self, scope: str | None, resource: str | None) -> AccessToken:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        if resource:
            data["resource"] = resource
        endpoint = await self.token_endpoint()
        response, body = await self._post_token_request(endpoint, data)
        nonce = response.headers.get("dpop-nonce")
        if self.dpop_key is not None and nonce and isinstance(body, dict) and body.get("error") == "use_dpop_nonce":
            # RFC 9449 §8: one retry with the nonce the server handed out (kept for later requests).
            self._dpop_nonce = nonce
            response, body = await self._post_token_request(endpoint, data)
        if not isinstance(body, dict):
            raise TokenRequestError("invalid_response", f"{endpoint} answered HTTP {response.status_code} without a JSON object", status_code=response.status_code)
        if response.status_code != 200:
            raise TokenRequestError(
                str(body.get("error", "invalid_response")),
                str(body.get("error_description", f"HTTP {response.status_code}")),
                status_code=response.status_code,
            )
        access_token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(access_token, str) or not isinstance(expires_in, (int, float)):
            raise TokenRequestError("invalid_response", f"{endpoint} returned no access_token with expires_in")
        token_type = str(body.get("token_type") or "Bearer")
        scope_granted = body.get("scope")
        return AccessToken(
            access_token=access_token,
            # RFC 6749 §7.1: the type is case-insensitive; "Bearer" is how RFC 6750 §2.1 writes the header.
            token_type="Bearer" if token_type.lower() == "bearer" else token_type,
            expires_at=self._clock() + float(expires_in),
            scope=scope_granted if isinstance(scope_granted, str) else scope,
        )
