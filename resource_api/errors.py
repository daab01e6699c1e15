"""Every error the resource API answers with is JSON `{"error", "error_description"}`.

Token problems are rendered by `shared.litestar`; this covers the rest: bad
bodies, unknown paths, and, as a last resort, bugs (500 without details).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

__all__ = ["exception_handlers"]

logger = logging.getLogger(__name__)

_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def _validation_description(exc: ValidationException) -> str:
    problems: list[str] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict) or not item.get("message"):
            continue
        key, message = item.get("key"), str(item["message"])
        if key == "data" and item.get("source") == "body":
            # Litestar names the whole body "data"; an absent body surfaces as KeyError('data').
            problems.append("the request body is missing" if message == "'data'" else f"request body: {message}")
        else:
            problems.append(f"{key}: {message}" if key else message)
    return "; ".join(problems) or exc.detail


def http_error_response(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    status = exc.status_code
    description = _validation_description(exc) if isinstance(exc, ValidationException) else exc.detail
    code = _CODES.get(status, "server_error" if status >= 500 else "invalid_request")
    return Response({"error": code, "error_description": description}, status_code=status, headers=exc.headers)


def unexpected_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response({"error": "server_error", "error_description": "internal error; see the server log"}, status_code=500)


exception_handlers: dict[type[Exception] | int, Any] = {
    HTTPException: http_error_response,
    500: unexpected_error_response,
}
