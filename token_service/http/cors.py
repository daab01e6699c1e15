"""CORS for the endpoints browsers call directly (token, userinfo, revocation).

Only origins of registered redirect URIs are admitted; the set is rebuilt from the
client registry every few seconds, so a newly registered client works without restart.
"""

from __future__ import annotations


import contextlib
import time
from collections.abc import Awaitable, Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

CORS_PATHS = frozenset({"/token", "/userinfo", "/revoke"})
REFRESH_SECONDS = 5.0


class AllowedOrigins:
    def __init__(self, load: Callable[[], Awaitable[frozenset[str]]]) -> None:
        self._load = load
        self._origins: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")

    async def allows(self, origin: str) -> bool:
        if time.monotonic() - self._loaded_at > REFRESH_SECONDS:
            # While the database is away, the last known set stays in force.
            with contextlib.suppress(Exception):
                self._origins = await self._load()
                self._loaded_at = time.monotonic()
        return origin in self._origins


def cors_middleware(origins: AllowedOrigins) -> type:
    class Cors:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["path"] not in CORS_PATHS:
                await self.app(scope, receive, send)
                return
            origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
            allowed = origin is not None and await origins.allows(origin)
            cors_headers = [(b"vary", b"Origin")]
            if allowed and origin is not None:
                cors_headers += [(b"access-control-allow-origin", origin.encode("latin-1"))]
            if scope["method"] == "OPTIONS" and origin is not None:
                headers = list(cors_headers)
                if allowed:
                    headers += [
                        (b"access-control-allow-methods", b"GET, POST"),
                        (b"access-control-allow-headers", b"Authorization, Content-Type"),
                        (b"access-control-max-age", b"600"),
                    ]
                start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 204 if allowed else 403, "headers": headers}
                await send(start)
                end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
                await send(end)
                return

            async def send_with_cors(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = list(message.get("headers", [])) + cors_headers
                await send(message)

            await self.app(scope, receive, send_with_cors)

    return Cors
