"""A tiny issuer for tests: discovery and JWKS over real HTTP, plus token minting.

It counts requests and can be told what caching headers to send, to answer
with an error, or to name another issuer in discovery, so the verifier's
caching behaviour can be pinned against a real server.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.live_server import LiveServer, free_port, serve_lifespan

ASGIMessage = dict[str, Any]

_DELETE = object()
"""Pass as a claim or header value to leave that member out of a minted token."""


class FakeIssuer:
    """Serves `/.well-known/openid-configuration` and `/jwks` for keys it holds."""

    DELETE = _DELETE

    def __init__(self, issuer: str, keys: list[RSAKey]) -> None:
        self.issuer = issuer
        self.signing_keys = list(keys)
        self.published_keys = list(keys)
        self.cache_control: str | None = "max-age=300"
        self.etag: str | None = '"v1"'
        self.jwks_status: int = 200
        self.discovery_status: int = 200
        self.discovery_issuer: str | None = None
        self.oidc_discovery: bool = True
        self.extra_jwks_entries: list[dict[str, Any]] = []
        self.jwks_requests = 0
        self.jwks_not_modified = 0
        self.discovery_requests = 0
        # Other paths it serves as given (status lists): path -> (status, body, content type).
        self.documents: dict[str, tuple[int, bytes, str]] = {}
        self.document_requests: dict[str, int] = {}
        self.extra_metadata: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ---- what it publishes -----------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        keys = [k.as_dict(private=False, use="sig", alg="RS256") for k in self.published_keys]
        return {"keys": [*keys, *self.extra_jwks_entries]}

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["code"],
            **self.extra_metadata,
        }

    # ---- minting -----------------------------------------------------------------

    def mint(
        self,
        *,
        key: RSAKey | None = None,
        header: dict[str, Any] | None = None,
        audience: str | list[str] = "http://api.test",
        scope: str = "notes:read",
        lifetime: float = 300,
        **claims: Any,
    ) -> str:
        """An RFC 9068 access token signed with the first key; override any member."""
        signing_key = key or self.signing_keys[0]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": audience,
            "exp": int(now + lifetime),
            "iat": now,
            "jti": uuid.uuid4().hex,
            "client_id": "test-client",
            "scope": scope,
            **claims,
        }
        protected = {"alg": "RS256", "typ": "at+jwt", "kid": signing_key.kid, **(header or {})}
        return mint_jwt(
            {k: v for k, v in protected.items() if v is not _DELETE},
            {k: v for k, v in payload.items() if v is not _DELETE},
            signing_key,
        )

    # ---- the ASGI app -------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if path == "/.well-known/openid-configuration" and self.oidc_discovery or (
            path == "/.well-known/oauth-authorization-server"
        ):
            with self._lock:
                self.discovery_requests += 1
            if self.discovery_status != 200:
                await _respond(send, self.discovery_status, {"error": "unavailable"})
            else:
                await _respond(send, 200, self.metadata())
        elif path == "/jwks":
            await self._serve_jwks(send, headers)
        elif path in self.documents:
            with self._lock:
                self.document_requests[path] = self.document_requests.get(path, 0) + 1
            status, body, content_type = self.documents[path]
            raw_headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), (b"cache-control", b"max-age=10")]
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})
        else:
            await _respond(send, 404, {"error": "not_found"})

    async def _serve_jwks(self, send: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self.jwks_requests += 1
        if self.jwks_status != 200:
            await _respond(send, self.jwks_status, {"error": "unavailable"})
            return
        extra: dict[str, str] = {}
        if self.cache_control is not None:
            extra["cache-control"] = self.cache_control
        if self.etag is not None:
            extra["etag"] = self.etag
            if headers.get("if-none-match") == self.etag:
                with self._lock:
                    self.jwks_not_modified += 1
                await _respond(send, 304, None, extra)
                return
        await _respond(send, 200, self.jwks(), extra)


async def _respond(send: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = b"" if body is None else json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def mint_jwt(header: dict[str, Any], claims: dict[str, Any], key: RSAKey) -> str:
    """Sign with joserfc exactly as given: no default typ is added."""
    return jwt.encode(header, claims, key, algorithms=[header.get("alg", "RS256")], default_type=None)


def b64(data: bytes) -> str:
    """base64url without padding, as JOSE writes every segment."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def default_claims(issuer: FakeIssuer, audience: str) -> dict[str, Any]:
    """A valid RFC 9068 claims set from `issuer` for `audience`, issued now."""
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "sub": "user-1",
        "aud": audience,
        "exp": now + 300,
        "iat": now,
        "jti": "j1",
        "client_id": "c1",
        "scope": "notes:read",
    }


def generate_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


@contextmanager
def running_issuer(keys: list[RSAKey], port: int | None = None) -> Iterator[tuple[FakeIssuer, LiveServer]]:
    """A FakeIssuer on a real loopback port; its issuer URL is known before it starts."""
    port = port or free_port()
    issuer = FakeIssuer(f"http://127.0.0.1:{port}", keys)
    server = LiveServer(issuer, port)
    server.start()
    try:
        yield issuer, server
    finally:
        server.stop()
