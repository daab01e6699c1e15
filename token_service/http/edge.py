"""The one ASGI layer around Litestar: observation, CORS, security headers, request id.

One wrapper instead of a middleware each: every layer costs a coroutine, a `send`
closure and a copy of the header list per request, which on the token endpoint added up
to a measurable share of the RSA signature the request is for (benchmarks/token_throughput).
It wraps Litestar's whole ASGI handler, so 404s and error answers get the same headers,
log line and metrics as routed requests.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from token_service.http.client_address import TrustedProxies, resolve_client
from token_service.http.cors import AllowedOrigins, answer_preflight, cors_decision
from token_service.http.headers import security_headers, with_defaults
from token_service.observability.access import Observation, RequestObserver
from token_service.observability.request_id import HEADER


def edge(
    app: ASGIApp, *, observer: RequestObserver | None, https: bool, origins: AllowedOrigins, proxies: TrustedProxies | None = None
) -> ASGIApp:
    defaults = security_headers(https=https)

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        if proxies:
            resolve_client(scope, proxies)
        observation = Observation(scope)
        try:
            cors = await cors_decision(scope, origins)
            added = [*(cors.headers if cors else ()), (HEADER, observation.request_id.encode())]

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    observation.status = message["status"]
                    # The request id is ours alone: an endpoint's own x-request-id is replaced.
                    message["headers"] = with_defaults(message.get("headers", ()), added, defaults, replaced=HEADER)
                await send(message)

            if cors is not None and cors.preflight is not None:
                await answer_preflight(cors, send_with_headers)
            else:
                await app(scope, receive, send_with_headers)
        finally:
            observation.finish(scope, observer)

    return handle
