"""A client's side of private_key_jwt for tests: its keys, its JWKS server, its assertions."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tests.support.live_server import LiveServer, serve_lifespan
from token_service.clients.cli import generate_client_key

ClientKey = RSAKey | ECKey | OKPKey


def new_key(alg: str = "ES256") -> ClientKey:
    return generate_client_key(alg)


def public_jwks(*keys: ClientKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def sign_assertion(
    key: ClientKey,
    client_id: str,
    audience: str | list[str],
    *,
    alg: str | None = None,
    header: dict[str, Any] | None = None,
    lifetime: int = 60,
    **claims: Any,
) -> str:
    """An RFC 7523 client assertion; any claim or header member can be overridden (None removes it)."""
    now = int(time.time())
    payload: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
    payload.update(claims)
    protected: dict[str, Any] = {"alg": alg or str(key.get("alg")), "kid": key.kid, **(header or {})}
    return jws.serialize_compact(
        {k: v for k, v in protected.items() if v is not None},
        json.dumps({k: v for k, v in payload.items() if v is not None}).encode(),
        key,
        algorithms=[protected["alg"]],
    )


class ClientKeyServer:
    """Serves a client's JWK Set at /jwks.json over real HTTP, and can misbehave on demand."""

    def __init__(self) -> None:
        self.keys: list[ClientKey] = []
        self.cache_control = "max-age=300"
        self.requests = 0
        self.delay = 0.0
        self.padding = 0
        self.redirect_to: str | None = None
        self.extra_entries: list[dict[str, Any]] = []
        self._server: LiveServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{self._server.url}/jwks.json"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["path"] != "/jwks.json":
            await _respond(send, 404, b"{}", [])
            return
        self.requests += 1
        if self.redirect_to is not None:
            await _respond(send, 302, b"", [(b"location", self.redirect_to.encode())])
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        document: dict[str, Any] = {"keys": [*public_jwks(*self.keys)["keys"], *self.extra_entries]}
        if self.padding:
            document["padding"] = "x" * self.padding
        await _respond(send, 200, json.dumps(document).encode(), [(b"cache-control", self.cache_control.encode())])


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def client_key_server(*keys: ClientKey) -> Iterator[ClientKeyServer]:
    app = ClientKeyServer()
    app.keys = list(keys)
    server = LiveServer(app)
    app._server = server
    server.start()
    try:
        yield app
    finally:
        server.stop()
