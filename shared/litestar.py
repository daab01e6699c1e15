"""Litestar integration: bearer-token middleware, a scope guard, and one error renderer.

    app = Litestar(
        route_handlers=[...],
        plugins=[BearerAuthPlugin(verifier, exclude=["^/static/"])],
    )

    @get("/notes", guards=[requires_scope("notes:read")])
    async def list_notes(claims: NamedDependency[AccessTokenClaims]) -> ...: ...

Both `Authorization: Bearer` and `Authorization: DPoP` (RFC 9449, with its proof) are
accepted; `dpop=DPoPOptions(require=True, public_url=...)` refuses bearer tokens.
`metadata=ProtectedResource(...)` serves the API's protected resource metadata
(RFC 9728) at its well-known path and names it in every challenge (`resource_metadata`).
Handlers marked `opt={"exclude_from_auth": True}` (health checks) or matching an
`exclude` pattern skip authentication. Every rejection, wherever it is raised,
is rendered by `token_rejected_response`: never a 500 for a bad token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from litestar import Request, Response, get
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp, Guard

from .claims import AccessTokenClaims
from .dpop.resource import DPoPOptions, RequestAuthenticator, bound_key_of
from .errors import InsufficientScope, KeySetUnavailable, MissingToken, TokenRejected
from .rejection import rejection_for
from .resource_metadata import ProtectedResource
from .verifier import AccessTokenVerifier

__all__ = [
    "EXCLUDE_FROM_AUTH",
    "BearerAuthMiddleware",
    "BearerAuthPlugin",
    "RejectionObserver",
    "requires_scope",
    "resource_metadata_route",
    "verified_claims",
]

#: Put `opt={EXCLUDE_FROM_AUTH: True}` on a handler that must stay public.
EXCLUDE_FROM_AUTH = "exclude_from_auth"
_REALM_KEY = "bearer_auth_realm"
_OBSERVER_KEY = "bearer_auth_on_rejection"
_AUTHENTICATOR_KEY = "bearer_auth_authenticator"
_METADATA_KEY = "bearer_auth_resource_metadata"


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Verifies `Authorization: Bearer` or `DPoP` and sets `request.user` / `request.auth` to the claims."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: RequestAuthenticator,
        exclude: str | list[str] | None = None,
    ) -> None:
        super().__init__(app, exclude=exclude, exclude_from_auth_key=EXCLUDE_FROM_AUTH)
        self.authenticator = authenticator

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        claims = await self.authenticator.authenticate(
            authorization=connection.headers.getall("authorization", []),
            dpop=connection.headers.getall("dpop", []),
            method=connection.scope["method"],  # type: ignore[typeddict-item]  # HTTP scopes only reach here
            path=connection.scope["path"],
            token_in_query="access_token" in connection.query_params,
        )
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
            exc = InsufficientScope(scopes, granted_scopes=claims.scopes)
            exc.scheme = "DPoP" if bound_key_of(claims.raw) is not None else "Bearer"
            raise exc

    return guard


#: Called with every rejection before it is rendered (logs, metrics); never given the token.
RejectionObserver = Callable[[Request[Any, Any, Any], "TokenRejected | KeySetUnavailable"], None]


def _observe(request: Request[Any, Any, Any], exc: TokenRejected | KeySetUnavailable) -> None:
    observer: RejectionObserver | None = request.app.state.get(_OBSERVER_KEY)
    if observer is not None:
        observer(request, exc)


def _rejection_response(request: Request[Any, Any, Any], exc: TokenRejected | KeySetUnavailable) -> Response[dict[str, str]]:
    _observe(request, exc)
    metadata: ProtectedResource | None = request.app.state.get(_METADATA_KEY)
    rejection = rejection_for(
        exc,
        request.app.state[_AUTHENTICATOR_KEY],
        realm=request.app.state.get(_REALM_KEY),
        resource_metadata=metadata.url if metadata is not None else None,
    )
    return Response(rejection.body, status_code=rejection.status_code, headers=rejection.headers)


def token_rejected_response(request: Request[Any, Any, Any], exc: TokenRejected) -> Response[dict[str, str]]:
    return _rejection_response(request, exc)


def key_set_unavailable_response(request: Request[Any, Any, Any], exc: KeySetUnavailable) -> Response[dict[str, str]]:
    return _rejection_response(request, exc)


def resource_metadata_route(metadata: ProtectedResource) -> HTTPRouteHandler:
    """`GET <well-known path>`: the protected resource metadata document (RFC 9728 §3), public."""

    @get(metadata.path, opt={EXCLUDE_FROM_AUTH: True}, include_in_schema=False, sync_to_thread=False)
    def protected_resource_metadata() -> Response[dict[str, Any]]:
        return Response(metadata.document(), headers=metadata.response_headers)

    return protected_resource_metadata


class BearerAuthPlugin(InitPlugin):
    """Installs the middleware, the `claims` dependency and the error renderers."""

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        *,
        exclude: Sequence[str] = (),
        realm: str | None = None,
        on_rejection: RejectionObserver | None = None,
        dpop: DPoPOptions | None = None,
        metadata: ProtectedResource | None = None,
    ) -> None:
        self.verifier = verifier
        self.authenticator = RequestAuthenticator(verifier, dpop)
        self.exclude = list(exclude)
        self.realm = realm
        self.on_rejection = on_rejection
        self.metadata = metadata.resolve(self.authenticator) if metadata is not None else None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.append(
            DefineMiddleware(BearerAuthMiddleware, authenticator=self.authenticator, exclude=self.exclude or None)
        )
        app_config.dependencies["claims"] = Provide(_provide_claims, sync_to_thread=False)
        app_config.exception_handlers[TokenRejected] = token_rejected_response
        app_config.exception_handlers[KeySetUnavailable] = key_set_unavailable_response
        app_config.state[_REALM_KEY] = self.realm
        app_config.state[_OBSERVER_KEY] = self.on_rejection
        app_config.state[_AUTHENTICATOR_KEY] = self.authenticator
        app_config.state[_METADATA_KEY] = self.metadata
        if self.metadata is not None:
            app_config.route_handlers.append(resource_metadata_route(self.metadata))
        return app_config
