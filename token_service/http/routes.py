"""What a route declares about itself (Litestar route `opt`), read by the error registry and the backend check.

Cross-cutting rules live here instead of in each handler: a route says whether a person
or a program reads its errors, and which backends it cannot answer without. The default
is the strict one (JSON errors, both backends), so a new endpoint is guarded even when
its author never thinks of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from litestar import Request
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


def backend_check(backends: Callable[[], BackendHealth]) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """An app-level `before_request` hook: every route needs both backends unless its `opt` says otherwise.

    A hook, not a guard: Litestar hands each guard a `copy()` of the route handler, a
    slotted object whose copy costs 8–9 µs of CPU per request (measured on `/token`);
    the hook reads the handler the request already holds. It runs after routing and before
    the handler's dependencies are resolved, and what it raises goes through the same
    exception handlers. No route sets its own `before_request`, which would replace this one.
    """

    # Async although it never awaits: Litestar runs a sync hook in a worker thread, a
    # thread hop on every request (measured: ~0.3 ms of CPU and a wake-up per token).
    async def require_backends(request: Request[Any, Any, Any]) -> None:
        backends().require(request.route_handler.opt.get("backends", BOTH))

    return require_backends
