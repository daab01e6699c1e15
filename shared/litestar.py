"""Litestar integration: bearer-token middleware, a scope guard, and one error renderer.

    app = Litestar(
        route_handlers=[...],
        plugins=[BearerAuthPlugin(verifier, exclude=["^/static/"])],
    )

    @get("/notes", guards=[requires_scope("notes:read")])
    async def list_notes(claims: NamedDependency[AccessTokenClaims]) -> ...: ...

Handlers marked `opt={"exclude_from_auth": True}` (health checks) or matching an
`exclude` pattern skip authentication. Every rejection, wherever it is raised,
is rendered by `token_rejected_response`: never a 500 for a bad token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp, Guard

from .bearer import bearer_token_from
from .claims import AccessTokenClaims
from .errors import InsufficientScope, KeySetUnavailable, MissingToken, TokenRejected, www_authenticate
from .verifier import AccessTokenVerifier

__all__ = [
    "EXCLUDE_FROM_AUTH",
    "BearerAuthMiddleware",
    "BearerAuthPlugin",
    "RejectionObserver",
    "requires_scope",
    "verified_claims",
]

#: Put `opt={EXCLUDE_FROM_AUTH: True}` on a handler that must stay public.
EXCLUDE_FROM_AUTH = "exclude_from_auth"
_REALM_KEY = "bearer_auth_realm"
_OBSERVER_KEY = "bearer_auth_on_rejection"
_RETRY_AFTER_SECONDS = "5"


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Verifies `Authorization: Bearer` and sets `request.user` / `request.auth` to the claims."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: AccessTokenVerifier,
        exclude: str | list[str] | None = None,
    ) -> None:
        super().__init__(app, exclude=exclude, exclude_from_auth_key=EXCLUDE_FROM_AUTH)
        self.verifier = verifier

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = bearer_token_from(
            connection.headers.getall("authorization", []),
            token_in_query="access_token" in connection.query_params,
        )
        claims = await self.verifier.verify(token)
        return AuthenticationResult(user=claims, auth=claims)


def verified_claims(connection: ASGIConnection[Any, Any, Any, Any]) -> AccessTokenClaims:
    """The claims the middleware put on the request; MissingToken on a public route."""
    user = connection.scope.get("user")
    if not isinstance(user, AccessTokenClaims):
        raise MissingToken()
    return user


def _provide_claims(request: Request[Any, Any, Any]) -> AccessTokenClaims:
    return verified_claims(request)


def requires_scope(*scopes: str) -> Guard:
    """A guard answering 403 insufficient_scope unless the token has every scope."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        claims = verified_claims(connection)
        if not claims.has_scopes(*scopes):
            raise InsufficientScope(scopes, granted_scopes=claims.scopes)

    return guard


#: Called with every rejection before it is rendered (logs, metrics); never given the token.
RejectionObserver = Callable[[Request[Any, Any, Any], "TokenRejected | KeySetUnavailable"], None]


def _observe(request: Request[Any, Any, Any], exc: TokenRejected | KeySetUnavailable) -> None:
    observer: RejectionObserver | None = request.app.state.get(_OBSERVER_KEY)
    if observer is not None:
        observer(request, exc)


def token_rejected_response(request: Request[Any, Any, Any], exc: TokenRejected) -> Response[dict[str, str]]:
    _observe(request, exc)
    realm = request.app.state.get(_REALM_KEY)
    body = {"error": exc.error, "error_description": exc.reason}
    if isinstance(exc, InsufficientScope):
        body["scope"] = exc.scope
    return Response(
        body,
        status_code=exc.status_code,
        headers={"WWW-Authenticate": www_authenticate(exc, realm), "Cache-Control": "no-store"},
    )


def key_set_unavailable_response(request: Request[Any, Any, Any], exc: KeySetUnavailable) -> Response[dict[str, str]]:
    _observe(request, exc)
    return Response(
        {"error": exc.error, "error_description": f"access tokens cannot be checked right now: {exc.reason}"},
        status_code=exc.status_code,
        headers={"Retry-After": _RETRY_AFTER_SECONDS, "Cache-Control": "no-store"},
    )


class BearerAuthPlugin(InitPlugin):
    """Installs the middleware, the `claims` dependency and the error renderers."""

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        *,
        exclude: Sequence[str] = (),
        realm: str | None = None,
        on_rejection: RejectionObserver | None = None,
    ) -> None:
        self.verifier = verifier
        self.exclude = list(exclude)
        self.realm = realm
        self.on_rejection = on_rejection

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.append(
            DefineMiddleware(BearerAuthMiddleware, verifier=self.verifier, exclude=self.exclude or None)
        )
        app_config.dependencies["claims"] = Provide(_provide_claims, sync_to_thread=False)
        app_config.exception_handlers[TokenRejected] = token_rejected_response
        app_config.exception_handlers[KeySetUnavailable] = key_set_unavailable_response
        app_config.state[_REALM_KEY] = self.realm
        app_config.state[_OBSERVER_KEY] = self.on_rejection
        return app_config
