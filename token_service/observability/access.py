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

from litestar.types import HTTPScope, Scope
from structlog.typing import EventDict

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
    """The request id and what endpoints learned about the request: its access-log event's
    fields, and (through `merge_request_facts`) those of every line logged while it runs."""

    request_id: str
    fields: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[RequestFacts | None] = ContextVar("token_service_request_facts", default=None)


def note_request(**fields: Any) -> None:
    """Attach fields to this request's access-log event and to its later log lines.

    Never pass a credential: values here are logged (and redacted only as a safety net).
    """
    facts = _current.get()
    if facts is not None:
        facts.fields.update(fields)


def merge_request_facts(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the current request's id and facts on every line logged during it.

    One context variable per request, read only when a line is logged, instead of binding each
    fact into structlog's context variables: those are set per fact and cleared by walking a
    copy of the whole context, twice per request (measured: 23 µs of CPU per token request).
    The line's own keys win, as with structlog's merge_contextvars.
    """
    facts = _current.get()
    if facts is not None:
        event_dict.setdefault("request_id", facts.request_id)
        for key, value in facts.fields.items():
            event_dict.setdefault(key, value)
    return event_dict


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
        self._facts = RequestFacts(self.request_id)
        self._facts_token = _current.set(self._facts)
        self._started = time.perf_counter()

    def finish(self, scope: HTTPScope, observer: RequestObserver | None) -> None:
        seconds = time.perf_counter() - self._started
        status = self.status
        route = route_of(scope)
        if observer is not None:
            observer.observe_request(scope["method"], route, status, seconds)
        # Made here from bounded values (a route template, numbers, fixed words): nothing a
        # client or an endpoint wrote, so nothing the redaction step could change.
        own = {"route": route, "status": status, "duration_ms": round(seconds * 1000, 2), "outcome": outcome_of(status)}
        # What the client sent or an endpoint noted: where a credential could slip in.
        free = {
            "request_id": self.request_id,  # a client's X-Request-ID may have the shape of a JWT
            "method": scope["method"],
            # The path only: codes, tokens and state travel in the query string.
            "path": scope["path"][:_MAX_PATH],
            **self._facts.fields,
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        writer = access_writer.installed()
        if writer is None or not writer.write(level, own, free):
            log.log(level, "request", extra={**own, **free})
        _current.reset(self._facts_token)
