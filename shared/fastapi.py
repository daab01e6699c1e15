"""FastAPI integration: a dependency that verifies the bearer token, and a scope check.

    auth = BearerAuth(verifier)

    @app.get("/notes")
    async def notes(claims: AccessTokenClaims = Depends(requires_scope(auth, "notes:read"))): ...

Rejections become HTTPException with the RFC 6750 `WWW-Authenticate` header and
`detail={"error", "error_description"}`. Needs the `fastapi` extra.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request

from .bearer import bearer_token_from
from .claims import AccessTokenClaims
from .errors import InsufficientScope, KeySetUnavailable, TokenRejected, www_authenticate
from .verifier import AccessTokenVerifier

__all__ = ["BearerAuth", "requires_scope"]


def _http_error(exc: TokenRejected | KeySetUnavailable, realm: str | None) -> HTTPException:
    detail = {"error": exc.error, "error_description": exc.reason}
    if isinstance(exc, KeySetUnavailable):
        return HTTPException(exc.status_code, detail, headers={"Retry-After": "5"})
    return HTTPException(exc.status_code, detail, headers={"WWW-Authenticate": www_authenticate(exc, realm)})


class BearerAuth:
    """Dependency returning the verified claims of the request's bearer token."""

    def __init__(self, verifier: AccessTokenVerifier, *, realm: str | None = None) -> None:
        self.verifier = verifier
        self.realm = realm

    async def __call__(self, request: Request) -> AccessTokenClaims:
        try:
            token = bearer_token_from(
                request.headers.getlist("authorization"),
                token_in_query="access_token" in request.query_params,
            )
            return await self.verifier.verify(token)
        except (TokenRejected, KeySetUnavailable) as exc:
            raise _http_error(exc, self.realm) from None


def requires_scope(auth: BearerAuth, *scopes: str) -> Callable[[AccessTokenClaims], Awaitable[AccessTokenClaims]]:
    """Dependency: the claims if the token has every scope, else 403 insufficient_scope."""

    async def dependency(claims: AccessTokenClaims = Depends(auth)) -> AccessTokenClaims:
        if not claims.has_scopes(*scopes):
            raise _http_error(InsufficientScope(scopes, granted_scopes=claims.scopes), auth.realm)
        return claims

    return dependency
