"""One rendering of a refused request, whatever framework answers it.

The Litestar plugin, the FastAPI dependency and plain ASGI guards (the MCP endpoint)
all answer with the same status, JSON body and headers, so a client (or the person
reading its log) sees one behaviour across every API built on `shared`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dpop.resource import RequestAuthenticator
from .errors import InsufficientScope, KeySetUnavailable, TokenRejected

__all__ = ["RETRY_AFTER_SECONDS", "Rejection", "rejection_for"]

#: When to try again after the issuer's keys could not be loaded.
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Rejection:
    status_code: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def rejection_for(
    exc: TokenRejected | KeySetUnavailable,
    authenticator: RequestAuthenticator,
    *,
    realm: str | None = None,
    resource_metadata: str | None = None,
    scope: str | None = None,
) -> Rejection:
    """Status, `{"error", "error_description"[, "scope"]}` body and headers for a refusal:
    `WWW-Authenticate` (RFC 6750 §3, RFC 9449 §7.1, `resource_metadata` of RFC 9728 §5.1)
    for a token problem, `Retry-After` when the keys are unavailable (503: the token may be fine).
    `scope` names the scopes to ask for in a 401 (an insufficient_scope 403 names its own)."""
    if isinstance(exc, KeySetUnavailable):
        return Rejection(
            exc.status_code,
            {"error": exc.error, "error_description": f"access tokens cannot be checked right now: {exc.reason}"},
            {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )
    body = {"error": exc.error, "error_description": exc.reason}
    if isinstance(exc, InsufficientScope):
        body["scope"] = exc.scope
    challenge = authenticator.challenge(exc, realm, resource_metadata, scope)
    return Rejection(exc.status_code, body, {"WWW-Authenticate": challenge, "Cache-Control": "no-store"})
