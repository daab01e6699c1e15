"""Security headers on every response (RFC 9700 §4.11, OWASP secure headers)."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send


def security_headers_middleware(*, https: bool) -> type:
    extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if https:
        extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    class SecurityHeaders:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await self.app(scope, receive, send)
                return

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    headers = list(message.get("headers", []))
                    headers.extend((name, value) for name, value in extra if name not in present)
                    message["headers"] = headers
                await send(message)

            await self.app(scope, receive, send_with_headers)

    return SecurityHeaders
