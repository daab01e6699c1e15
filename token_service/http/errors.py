"""The one place that renders every error: OAuth errors, framework errors, and the unexpected."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from token_service.endpoints.responses import NO_STORE, json_response
from token_service.backends import RETRY_AFTER, is_backend_outage
from token_service.errors import OAuthError, TemporarilyUnavailable
from token_service.pages import render_error_page
from token_service.observability.access import note_request
from token_service.observability.metrics import metrics_of

PAGE_PATHS = frozenset({"/authorize", "/authorize/continue", "/login", "/consent", "/logout"})

log = logging.getLogger("token_service.errors")

_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "invalid_request", 429: "slow_down"}


def note_rejection(request: Request[Any, Any, Any], error: str, reason: str) -> None:
    """Every rendered error reaches the request's access-log event and the token-error counter."""
    # Descriptions are written for the client and never quote a credential.
    note_request(error=error, reason=reason)
    metrics = metrics_of(request.app.state)
    if metrics is not None and request.url.path == "/token":
        metrics.token_errors.labels(error).inc()


def oauth_error_handler(request: Request[Any, Any, Any], exc: OAuthError) -> Response[Any]:
    note_rejection(request, exc.error, exc.description)
    if request.url.path in PAGE_PATHS or request.url.path.startswith(("/login/", "/callback/")):
        # A person is looking at this one: an HTML page, with the same status and headers.
        title = "Temporarily unavailable" if exc.status_code == 503 else "Request failed"
        return render_error_page(title, exc.description, status_code=exc.status_code, headers=exc.headers)
    return json_response(exc.body(), status_code=exc.status_code, headers={**NO_STORE, **exc.headers})


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        return unexpected_error_handler(request, exc)
    code = _HTTP_ERROR_CODES.get(status, "invalid_request")
    note_rejection(request, code, str(exc.detail))
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return json_response({"error": code, "error_description": str(exc.detail)}, status_code=status, headers={**NO_STORE, **headers})


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_backend_outage(exc):
        log.warning("backend unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        unavailable = TemporarilyUnavailable("a backend (database or session store) cannot be reached; retry shortly", retry_after=RETRY_AFTER)
        return oauth_error_handler(request, unavailable)
    # Logged with the traceback for operators; the client gets a standard body, never the trace.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    note_rejection(request, "server_error", type(exc).__name__)
    return json_response(
        {"error": "server_error", "error_description": "an unexpected error occurred; it has been logged"},
        status_code=500,
        headers=NO_STORE,
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    OAuthError: oauth_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
