"""What a route declares about itself (Litestar route `opt`), read by the error registry and the backend guard.

Cross-cutting rules live here instead of in each handler: a route says whether a person
or a program reads its errors, and which backends it cannot answer without. The default
is the strict one (JSON errors, both backends), so a new endpoint is guarded even when
its author never thinks of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from token_service.backends import BackendHealth

Backend = Literal["database", "store"]
ErrorForm = Literal["json", "page"]

BOTH: tuple[Backend, ...] = ("database", "store")


def route_opt(*, errors: ErrorForm = "json", backends: tuple[Backend, ...] = BOTH, realm: str | None = None) -> dict[str, Any]:
    """`errors="page"`: a browser shows this route's answers, so errors render as HTML.
    `backends`: what the route needs; while one is down it answers 503 at once.
    `realm`: the RFC 6750 realm of a bearer-protected route's WWW-Authenticate."""
    return {"errors": errors, "backends": backends, "realm": realm}


def route_options(handler: BaseRouteHandler | None) -> dict[str, Any]:
    return handler.opt if handler is not None else {}


def backend_guard(
    backends: Callable[[], BackendHealth],
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """An app-level guard: every route needs both backends unless its `opt` says otherwise."""

    # Async although it never awaits: Litestar runs a sync guard in a worker thread, a
    # thread hop on every request (measured: ~0.3 ms of CPU and a wake-up per token).
    async def require_backends(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        backends().require(handler.opt.get("backends", BOTH))

    return require_backends
