"""FastAPI integration: a dependency that verifies the bearer token, and a scope check.

    auth = BearerAuth(verifier, metadata=ProtectedResource(resource_name="Notes API"))
    app.include_router(auth.metadata_router())      # GET /.well-known/oauth-protected-resource

    @app.get("/notes")
    async def notes(claims: AccessTokenClaims = Depends(requires_scope(auth, "notes:read"))): ...

`BearerAuth(verifier, dpop=DPoPOptions(...))` also takes `Authorization: DPoP` with
its proof (RFC 9449); `DPoPOptions(require=True)` refuses bearer tokens.
Rejections become HTTPException with the RFC 6750 `WWW-Authenticate` header (naming the
RFC 9728 `resource_metadata` when `metadata` is given) and
`detail={"error", "error_description"}`. Needs the `fastapi` extra.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from .claims import AccessTokenClaims
from .dpop.resource import DPoPOptions, RequestAuthenticator
from .errors import InsufficientScope, KeySetUnavailable, TokenRejected
from .rejection import rejection_for
from .resource_metadata import ProtectedResource
from .verifier import AccessTokenVerifier

__all__ = ["BearerAuth", "requires_scope"]


def _http_error(exc: TokenRejected | KeySetUnavailable, auth: BearerAuth) -> HTTPException:
    rejection = rejection_for(exc, auth.authenticator, realm=auth.realm, resource_metadata=auth.metadata.url if auth.metadata else None)
    return HTTPException(rejection.status_code, rejection.body, headers=rejection.headers)


class BearerAuth:
    """Dependency returning the verified claims of the request's bearer token."""

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        *,
        realm: str | None = None,
        dpop: DPoPOptions | None = None,
        metadata: ProtectedResource | None = None,
    ) -> None:
        self.verifier = verifier
        self.realm = realm
        self.authenticator = RequestAuthenticator(verifier, dpop)
        self.metadata = metadata.resolve(self.authenticator) if metadata is not None else None

    async def __call__(self, request: Request) -> AccessTokenClaims:
        try:
            return await self.authenticator.authenticate(
                authorization=request.headers.getlist("authorization"),
                dpop=request.headers.getlist("dpop"),
                method=request.method,
                # The path the app saw, below any root_path: the public URL already holds the prefix.
                path=request.url.path.removeprefix(request.scope.get("root_path", "")),
                token_in_query="access_token" in request.query_params,
            )
        except (TokenRejected, KeySetUnavailable) as exc:
            raise _http_error(exc, self) from None

    def metadata_router(self) -> APIRouter:
        """A router serving the protected resource metadata (RFC 9728 §3) at its well-known path."""
        metadata = self.metadata
        if metadata is None:
            raise ValueError("BearerAuth was built without metadata=ProtectedResource(...)")
        router = APIRouter()

        @router.get(metadata.path, include_in_schema=False)
        async def protected_resource_metadata() -> JSONResponse:
            return JSONResponse(metadata.document(), headers=metadata.response_headers)

        return router


def requires_scope(auth: BearerAuth, *scopes: str) -> Callable[[AccessTokenClaims], Awaitable[AccessTokenClaims]]:
    """Dependency: the claims if the token has every scope, else 403 insufficient_scope."""

    async def dependency(claims: AccessTokenClaims = Depends(auth)) -> AccessTokenClaims:
        if not claims.has_scopes(*scopes):
            exc = InsufficientScope(scopes, granted_scopes=claims.scopes)
            exc.scheme = auth.authenticator.scheme_of(claims)
            raise _http_error(exc, auth)
        return claims

    return dependency
