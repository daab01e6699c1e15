"""The one exception-handler registry: every error type, rendered as a page or as JSON by route.

A route that a person sees in the browser declares `route_opt(errors="page")` and gets an
HTML page (pages' `render_error_page`, the single renderer); every other route answers
with the RFC 6749 §5.2 JSON body. Handlers raise; they never render errors themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from shared.errors import TokenRejected, www_authenticate
from token_service.backends import RETRY_AFTER, is_backend_outage
from token_service.endpoints.responses import NO_STORE, json_response
from token_service.errors import OAuthError, PageError, TemporarilyUnavailable, clipped
from token_service.http.routes import route_options
from token_service.pages import render_error_page
from token_service.observability.access import note_request
from token_service.observability.metrics import metrics_of

log = logging.getLogger("token_service.errors")

_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "invalid_request", 429: "slow_down"}

AnyRequest = Request[Any, Any, Any]


def note_rejection(request: AnyRequest, error: str, reason: str) -> None:
    """Every rendered error reaches the request's access-log event and the token-error counter."""
    # Descriptions are written for the client and never quote a credential.
    note_request(error=error, reason=reason)
    metrics = metrics_of(request.app.state)
    if metrics is not None and request.url.path == "/token":
        metrics.token_errors.labels(error).inc()


def shows_pages(request: AnyRequest) -> bool:
    # Unmatched paths (404) have no route handler: they answer in JSON.
    return route_options(request.scope.get("route_handler")).get("errors") == "page"


def render(request: AnyRequest, *, error: str, description: str, status_code: int, headers: dict[str, str], title: str) -> Response[Any]:
    description = clipped(description)
    note_rejection(request, error, description)
    if shows_pages(request):
        # A person is looking at this one: an HTML page, with the same status and headers.
        return render_error_page(title, description, status_code=status_code, headers=headers)
    return json_response({"error": error, "error_description": description}, status_code=status_code, headers={**NO_STORE, **headers})


def page_title(error: str, status_code: int) -> str:
    if status_code == 503:
        return "Temporarily unavailable"
    return "Invalid request" if error == "invalid_request" else "Request failed"


def oauth_error_handler(request: AnyRequest, exc: OAuthError) -> Response[Any]:
    return render(
        request, error=exc.error, description=exc.description, status_code=exc.status_code, headers=exc.headers, title=page_title(exc.error, exc.status_code)
    )


def page_error_handler(request: AnyRequest, exc: PageError) -> Response[Any]:
    # Raised only on page routes; the access log still gets a code it can count.
    note_rejection(request, "page_error", exc.message)
    return render_error_page(exc.title, exc.message, next_step=exc.next_step, status_code=exc.status_code, headers=exc.headers)


def route_realm(request: AnyRequest) -> str | None:
    """The RFC 6750 realm a token-protected route declares in its `opt` (http/routes.py)."""
    realm: str | None = route_options(request.scope.get("route_handler")).get("realm")
    return realm


class ChallengedRejection(Exception):
    """A rejected access token with the WWW-Authenticate its route's authenticator chose:
    a route taking Bearer and DPoP offers both schemes (RFC 9449 §7.1, §7.2)."""

    def __init__(self, rejection: TokenRejected, challenge: str) -> None:
        super().__init__(rejection.reason)
        self.rejection = rejection
        self.challenge = challenge


def token_rejected_handler(request: AnyRequest, exc: TokenRejected) -> Response[Any]:
    """RFC 6750 §3: a bearer-only route's rejection."""
    return token_rejected_response(request, exc, www_authenticate(exc, realm=route_realm(request)))


def challenged_rejection_handler(request: AnyRequest, exc: ChallengedRejection) -> Response[Any]:
    return token_rejected_response(request, exc.rejection, exc.challenge)


def token_rejected_response(request: AnyRequest, exc: TokenRejected, challenge: str) -> Response[Any]:
    return render(
        request, error=exc.error, description=exc.reason, status_code=exc.status_code, headers={"WWW-Authenticate": challenge}, title="Request failed"
    )


def http_error_handler(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        return unexpected_error_handler(request, exc)
    code = _HTTP_ERROR_CODES.get(status, "invalid_request")
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return render(request, error=code, description=str(exc.detail), status_code=status, headers=headers, title=page_title(code, status))


def unexpected_error_handler(request: AnyRequest, exc: Exception) -> Response[Any]:
    if is_backend_outage(exc):
        log.warning("backend unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        unavailable = TemporarilyUnavailable("a backend (database or session store) cannot be reached; retry shortly", retry_after=RETRY_AFTER)
        return oauth_error_handler(request, unavailable)
    # Logged with the traceback for operators; the client gets a standard body, never the trace.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    note_rejection(request, "server_error", type(exc).__name__)
    description = "an unexpected error occurred; it has been logged"
    if shows_pages(request):
        return render_error_page("Something went wrong", description, status_code=500)
    return json_response({"error": "server_error", "error_description": description}, status_code=500, headers=NO_STORE)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    OAuthError: oauth_error_handler,
    PageError: page_error_handler,
    TokenRejected: token_rejected_handler,
    ChallengedRejection: challenged_rejection_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
