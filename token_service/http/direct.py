"""One route served straight from the ASGI entry point: the token endpoint's fast path.

Litestar's per-request pipeline around a handler (routing, the exception middleware's
`send` wrapper, the kwargs model, `Response` header assembly) cost ~151 000 of the
~579 000 instructions a token request ran beside its signature (benchmarks.
instruction_counts, the same requests sent to `/token/`), for a route whose only
parameter is the request and whose answer is always a 200 no-store JSON body or an
error. So `POST /token`, exactly that path, is dispatched here, before Litestar's router:

- the same Litestar route handler object is put in the scope and its `before_request`
  hook runs (the backend check), so `request.route_handler` and its `opt` read as usual;
- the route's own `answer` function runs with a Litestar `Request`;
- an exception goes to the exception handler Litestar itself would pick, and its
  `Response` is rendered by Litestar;
- a success is sent as two ASGI messages with the headers Litestar's response would carry.

Every other request, including `/token/`, `//token` and any non-POST method, goes through
Litestar unchanged, and the route stays registered there (OpenAPI lists it; the parity
test, tests/token_service/test_direct_route.py, compares both paths answer by answer).
Building the app fails if the route or the app gains anything this path would skip
(guards, middleware, after-request hooks, before-send hooks, ...). Two helpers come from
Litestar's private modules (the Host check and the exception-handler lookup), so that
both paths decide alike; pyproject.toml pins Litestar's minor version for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar._asgi.utils import is_valid_host
from litestar.enums import ScopeType
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware._internal.exceptions.middleware import get_exception_handler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from token_service.endpoints.responses import NO_STORE

AnyRequest = Request[Any, Any, Any]
Answer = Callable[[AnyRequest], Awaitable[bytes]]

# Litestar's `ASGIResponse(media_type="application/json", headers=NO_STORE)` sends these
# (the parity test checks it), with the content-length last.
_JSON_NO_STORE = [
    (b"content-type", b"application/json"),
    *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in NO_STORE.items()),
]


@dataclass(frozen=True)
class DirectRoute:
    """A POST route that can be served without Litestar's pipeline.

    `handler` is the Litestar route (registered as usual, it serves every request this
    path does not take); `answer` turns a request into the 200 JSON body, raising the
    service's typed errors otherwise. The handler must call `answer` and nothing else.
    """

    handler: HTTPRouteHandler
    answer: Answer

    @property
    def path(self) -> str:
        return next(iter(self.handler.paths))


def direct_dispatch(app: Litestar, route: DirectRoute, fallback: ASGIApp) -> ASGIApp:
    """The ASGI callable in front of Litestar's: `route`'s exact path and method here, the rest to `fallback`."""
    path = route.path
    handler = _registered(app, route)
    before = handler.resolve_before_request()
    exception_handlers = handler.resolve_exception_handlers()
    type_encoders = handler.resolve_type_encoders()
    answer = route.answer

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] != path or scope["method"] != "POST" or scope.get("root_path") or not _host_ok(scope):
            await fallback(scope, receive, send)
            return
        # What Litestar's entry point and router put in the scope for this route.
        scope["app"] = scope["litestar_app"] = app
        scope.setdefault("state", {})
        scope["path_params"] = {}
        scope["route_handler"] = handler
        scope["path_template"] = path
        request: AnyRequest = Request(scope, receive, send)
        try:
            if before is not None:
                await before(request)
            body = await answer(request)
        except Exception as exc:
            # As Litestar's exception middleware does: the handler it would choose, its Response rendered by Litestar.
            chosen = get_exception_handler(exception_handlers, exc)
            assert chosen is not None  # `_registered` checked that `Exception` itself has a handler
            response = chosen(request, exc).to_asgi_response(app=None, request=request, type_encoders=type_encoders)
            await response(scope, receive, send)
            return
        start: Message = {"type": "http.response.start", "status": 200, "headers": [*_JSON_NO_STORE, (b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return dispatch


def _host_ok(scope: Scope) -> bool:
    # Litestar's router answers 400 to a malformed Host; such a request is left to it.
    for name, value in scope["headers"]:
        if name == b"host":
            return is_valid_host(value)
    return True


def _registered(app: Litestar, route: DirectRoute) -> HTTPRouteHandler:
    """The handler Litestar registered for the route, checked to have nothing this path would skip."""
    methods = app.route_handler_method_map.get(route.path, {})
    handler = methods.get("POST")
    problems = []
    if not isinstance(handler, HTTPRouteHandler) or handler.fn is not route.handler.fn:
        raise ImproperlyConfiguredException(f"direct route {route.path}: its handler is not registered on the app for POST")
    if list(handler.parsed_fn_signature.parameters) != ["request"]:
        problems.append("the handler takes parameters other than `request`")
    if handler.resolve_guards():
        problems.append("guards")
    if handler.resolve_middleware():
        problems.append("middleware")
    if handler.resolve_after_response() or any(getattr(layer, "after_request", None) for layer in handler.ownership_layers):
        problems.append("after-request or after-response hooks")
    if Exception not in handler.resolve_exception_handlers():
        problems.append("no exception handler for `Exception` (Litestar's default one is not reproduced here)")
    if handler.cache:
        problems.append("response caching")
    if app.before_send or app.after_exception:
        problems.append("the app's before-send or after-exception hooks")
    if problems:
        raise ImproperlyConfiguredException(f"direct route {route.path} would skip what Litestar runs for it: {', '.join(problems)}")
    return handler
