"""`GET /metrics` and the record of refused tokens: a log line with the rule and reason, a counter.

The token itself is never logged: the verifier's reason is written not to contain it,
and the observer only ever sees the rejection, not the request's Authorization header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from shared import KeySetUnavailable, TokenRejected
from shared.litestar import EXCLUDE_FROM_AUTH, RejectionObserver
from shared.metrics import VerifierMetrics, exposition

__all__ = ["metrics_endpoint", "rejection_log", "rejection_observer"]

# stdlib: the host process decides where logs go (see token_service.observability.logging).
log = logging.getLogger("resource_api.auth")


def rejection_log(metrics: VerifierMetrics) -> Callable[[TokenRejected | KeySetUnavailable, str, str], None]:
    """Counts and logs a refusal of a request (`method`, `path`), whichever part of the API refused it."""

    def record(exc: TokenRejected | KeySetUnavailable, method: str, path: str) -> None:
        metrics.rejected(exc)
        log.info("token rejected", extra={"rule": exc.rule, "error": exc.error, "reason": exc.reason, "method": method, "path": path})

    return record


def rejection_observer(metrics: VerifierMetrics) -> RejectionObserver:
    record = rejection_log(metrics)

    def observe(request: Request[Any, Any, Any], exc: TokenRejected | KeySetUnavailable) -> None:
        record(exc, request.method, request.url.path)

    return observe


@get("/metrics", opt={EXCLUDE_FROM_AUTH: True}, tags=["operations"], include_in_schema=False)
async def metrics_endpoint(state: State) -> Response[bytes]:
    metrics: VerifierMetrics = state.verifier_metrics
    body, content_type = exposition(metrics.registry)
    return Response(content=body, media_type=content_type, headers={"Cache-Control": "no-store"})
