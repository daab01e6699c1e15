"""Per-request observation: request id, per-request log context, access log, latency.

The edge wrapper (token_service.http.edge) opens one `Observation` around Litestar's whole
ASGI handler, so requests that match no route are logged and measured too. Endpoints add
what only they know (client_id, grant_type, the OAuth error) with `note_request`.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from litestar.types import HTTPScope, Scope

from token_service.observability import access_writer
from token_service.observability.request_id import incoming_request_id, new_request_id

# A stdlib logger, not structlog's: an app embedded without `configure_logging` (tests,
# other hosts) then follows the host's logging instead of printing to stdout. Once
# configured, the fields arrive as structured keys through ExtraAdder.
log = logging.getLogger(access_writer.ACCESS_LOGGER)

UNMATCHED_ROUTE = "unmatched"
_MAX_PATH = 200


class RequestObserver(Protocol):
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None: ...


@dataclass
class RequestFacts:
    """What endpoints learned about the request, for its access-log event."""

    fields: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[RequestFacts | None] = ContextVar("token_service_request_facts", default=None)


def note_request(**fields: Any) -> None:
    """Attach fields to this request's access-log event and to its later log lines.

    Never pass a credential: values here are logged (and redacted only as a safety net).
    """
    facts = _current.get()
    if facts is not None:
        facts.fields.update(fields)
    structlog.contextvars.bind_contextvars(**fields)


def route_of(scope: Scope) -> str:
    # The template (`/login/{name}`), never the raw path: bounded label cardinality.
    template = scope.get("path_template")
    return template if scope.get("route_handler") is not None and template else UNMATCHED_ROUTE


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    return "rejected" if status < 500 else "error"


class Observation:
    """One HTTP request's observation: its id, log context, status, latency and access event."""

    __slots__ = ("request_id", "status", "_facts", "_facts_token", "_started")

    def __init__(self, scope: HTTPScope) -> None:
        self.request_id = incoming_request_id(scope["headers"]) or new_request_id()
        self.status = 500  # what the client sees if the app fails before answering
        self._facts = RequestFacts()
        self._facts_token = _current.set(self._facts)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=self.request_id)
        self._started = time.perf_counter()

    def finish(self, scope: HTTPScope, observer: RequestObserver | None) -> None:
        seconds = time.perf_counter() - self._started
        status = self.status
        route = route_of(scope)
        if observer is not None:
            observer.observe_request(scope["method"], route, status, seconds)
        event = {
            "request_id": self.request_id,
            "method": scope["method"],
            # The path only: codes, tokens and state travel in the query string.
            "path": scope["path"][:_MAX_PATH],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "outcome": outcome_of(status),
            **self._facts.fields,
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        writer = access_writer.installed()
        if writer is None or not writer.write(level, event):
            log.log(level, "request", extra=event)
        structlog.contextvars.clear_contextvars()
        _current.reset(self._facts_token)
