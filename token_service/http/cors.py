"""CORS for the endpoints browsers call directly (token, userinfo, revocation, registration).

Only origins of registered redirect URIs are admitted; the set is rebuilt from the
client registry every few seconds, so a newly registered client works without restart.
The registration endpoints (RFC 7591/7592) admit every origin: a browser app registers
before any origin of its is known, and those requests carry no cookies, only the
bearer tokens the caller holds (no `Access-Control-Allow-Credentials`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from litestar.utils.path import normalize_path
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, HTTPScope, Send

CORS_PATHS = frozenset({"/token", "/userinfo", "/revoke"})
REGISTRATION_PATH = "/register"
REFRESH_SECONDS = 5.0


class AllowedOrigins:
    """The admitted origins, rebuilt by one query (shared by concurrent requests) once the
    set is older than `REFRESH_SECONDS`. An origin the last set admits is answered at once
    while the set is rebuilt; any other waits for the rebuild. While the database is away,
    the last known set stays in force.
    """

    def __init__(self, load: Callable[[], Awaitable[frozenset[str]]]) -> None:
        self._load = load
        self._origins: frozenset[str] | None = None
        self._loaded_at = float("-inf")
        self._reloading: asyncio.Task[None] | None = None

    async def _reload(self) -> None:
        with contextlib.suppress(Exception):
            self._origins = await self._load()
            self._loaded_at = time.monotonic()

    async def allows(self, origin: str) -> bool:
        stale = time.monotonic() - self._loaded_at > REFRESH_SECONDS
        if stale and (self._reloading is None or self._reloading.done()):
            self._reloading = asyncio.get_running_loop().create_task(self._reload())
        if self._origins is not None and origin in self._origins:
            return True
        # Not admitted by the last set: a client registered since may admit it, so a stale
        # set is rebuilt before answering no.
        if stale and self._reloading is not None:
            await asyncio.shield(self._reloading)
        return self._origins is not None and origin in self._origins


@dataclass(frozen=True, slots=True)
class CorsDecision:
    """What CORS adds to one request to a browser-facing endpoint."""

    headers: list[tuple[bytes, bytes]]
    preflight: HTTPResponseStartEvent | None  # the complete answer to an OPTIONS preflight


async def cors_decision(scope: HTTPScope, origins: AllowedOrigins) -> CorsDecision | None:
    """None for paths outside CORS_PATHS; otherwise the headers, and for a preflight the answer."""
    path = scope["path"]
    if path not in CORS_PATHS:
        # Litestar's router serves `/token/` and `//token` as `/token`: so does CORS.
        path = normalize_path(path)
    registration = path == REGISTRATION_PATH or path.startswith(REGISTRATION_PATH + "/")
    if path not in CORS_PATHS and not registration:
        return None
    origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
    allowed = origin is not None and (registration or await origins.allows(origin))
    cors_headers = [(b"vary", b"Origin")]
    if allowed and origin is not None:
        cors_headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
        # RFC 9449 §8: a browser client must be able to read the nonce it is asked to use.
        cors_headers.append((b"access-control-expose-headers", b"DPoP-Nonce"))
    if scope["method"] != "OPTIONS" or origin is None:
        return CorsDecision(cors_headers, None)
    preflight_headers = list(cors_headers)
    if allowed:
        preflight_headers += [
            (b"access-control-allow-methods", b"GET, POST, PUT, DELETE" if registration else b"GET, POST"),
            (b"access-control-allow-headers", b"Authorization, Content-Type, DPoP"),
            (b"access-control-max-age", b"600"),
        ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 204 if allowed else 403, "headers": preflight_headers}
    return CorsDecision([], start)


async def answer_preflight(decision: CorsDecision, send: Send) -> None:
    assert decision.preflight is not None
    await send(decision.preflight)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
    await send(end)
