"""The composition root: the token service's services, built once and handed to handlers by name.

`open_runtime` opens the resources (database, store, HTTP client, keys); `build_services`
builds every narrow service from them and from the settings, each receiving only what it
uses; `create_app` registers each field of `Services` as a Litestar dependency of the same
name, so a handler's signature says exactly what it touches (see README "Architecture").
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from typing import Any, cast

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.dpop.resource import RequestAuthenticator
from token_service.backends import BackendHealth
from token_service.clients.authentication import ClientAuthenticator
from token_service.clients.documents import ClientDocuments
from token_service.clients.registry import ClientRegistry, config_clients
from token_service.clients.wiring import build_client_authenticator
from token_service.clock import Clock, system_clock
from token_service.dpop.proofs import TokenRequestProofs, token_request_proofs
from token_service.endpoints.authorize import authorize, authorize_continue, consent
from token_service.endpoints.authorize_flow import AuthorizationFlow
from token_service.endpoints.discovery import discovery, discovery_document, jwks
from token_service.endpoints.health import healthz, readyz
from token_service.endpoints.introspect import introspect
from token_service.endpoints.login import login, password_login, upstream_callback, upstream_login
from token_service.endpoints.logout import logout
from token_service.endpoints.revoke import revoke
from token_service.endpoints.token import Grants, TokenEndpointServices, token_endpoint
from token_service.endpoints.userinfo import userinfo, userinfo_verifier
from token_service.grants.authorization_code import AuthorizationCodeGrant
from token_service.grants.client_credentials import ClientCredentialsGrant
from token_service.grants.codes import AuthorizationCodes
from token_service.grants.issuance import TokenMinter
from token_service.grants.refresh_token import RefreshTokenGrant
from token_service.http.client_address import TrustedProxies
from token_service.http.cors import AllowedOrigins
from token_service.http.edge import edge
from token_service.http.errors import EXCEPTION_HANDLERS
from token_service.http.routes import backend_guard
from token_service.keys.current import CurrentKeys
from token_service.login.connectors import build_connectors
from token_service.login.consents import ConsentRecords
from token_service.login.methods import PendingUpstreamLogins, SignInMethods
from token_service.login.sessions import BrowserSessions
from token_service.login.transactions import LoginTransactions
from token_service.observability.metrics import TokenServiceMetrics, metrics_endpoint, metrics_listener
from token_service.pages import Branding, page_templates, stylesheet_route
from token_service.ratelimit import DocumentFetchLimits, LoginLimits, RateLimiter, RegistrationLimits, TokenLimits, limiter_storage
from token_service.registration.endpoints import ROUTES as REGISTRATION_ROUTES
from token_service.registration.service import ClientRegistrar
from token_service.resources.registry import ResourceRegistry, config_resources
from token_service.resources.targets import ResourceTargets
from token_service.runtime import Runtime, open_runtime
from token_service.settings import TokenServiceSettings
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.issued import IssuedTokens
from token_service.tokens.local_keys import SnapshotKeyResolver
from token_service.tokens.refresh import RefreshTokens
from token_service.tokens.signer import TokenSigner
from token_service.users.directory import UserDirectory


@dataclass(frozen=True)
class Services:
    """Every field is a Litestar dependency of the same name (a handler parameter `clients: ...`)."""

    clock: Clock
    clients: ClientRegistry
    resources: ResourceRegistry
    client_auth: ClientAuthenticator
    users: UserDirectory
    sign_in: SignInMethods
    codes: AuthorizationCodes
    refresh_tokens: RefreshTokens
    denylist: AccessTokenDenyList
    browser_sessions: BrowserSessions
    login_transactions: LoginTransactions
    pending_upstream_logins: PendingUpstreamLogins
    consents: ConsentRecords
    login_limits: LoginLimits
    token_limits: TokenLimits
    registrar: ClientRegistrar
    registration_limits: RegistrationLimits
    flow: AuthorizationFlow
    grants: Grants
    issued_tokens: IssuedTokens
    own_keys: SnapshotKeyResolver
    userinfo_verifier: RequestAuthenticator
    dpop_proofs: TokenRequestProofs
    current_keys: CurrentKeys
    backends: BackendHealth
    metrics: TokenServiceMetrics
    discovery_bytes: bytes
    jwks_max_age: int
    token_endpoint_services: TokenEndpointServices


def build_grants(
    settings: TokenServiceSettings,
    runtime: Runtime,
    *,
    users: UserDirectory,
    codes: AuthorizationCodes,
    refresh_tokens: RefreshTokens,
    denylist: AccessTokenDenyList,
    targets: ResourceTargets,
) -> Grants:
    """The token endpoint's grant types: adding one is a class with `__call__(client, params)` and a line here."""
    minter = TokenMinter.from_settings(TokenSigner(runtime.current_keys.current), settings, runtime.clock)
    return {
        "authorization_code": AuthorizationCodeGrant(codes, users, refresh_tokens, denylist, minter, targets, runtime.clock),
        "client_credentials": ClientCredentialsGrant(minter, targets),
        "refresh_token": RefreshTokenGrant(refresh_tokens, minter, targets),
    }


def build_services(settings: TokenServiceSettings, runtime: Runtime, metrics: TokenServiceMetrics) -> Services:
    clock, db_sessions, store = runtime.clock, runtime.db_sessions, runtime.store
    limits_file = settings.ephemeral_store_file if settings.ephemeral_store == "file" else None
    limiter = RateLimiter(limiter_storage(settings.redis_url, settings.redis_prefix, file=limits_file))
    documents = ClientDocuments.for_settings(
        runtime.outbound, allow_private_urls=settings.allow_private_urls, clock=clock, fetch_limits=DocumentFetchLimits(limiter)
    )
    clients = ClientRegistry(
        db_sessions,
        config_clients(settings.clients),
        allow_private_urls=settings.allow_private_urls,
        clock=clock,
        documents=documents,
        unused_open_ttl=settings.open_registration_unused_ttl,
    )
    resources = ResourceRegistry(db_sessions, config_resources(settings.resources), clock=clock)
    targets = ResourceTargets(resources, userinfo_audience=settings.endpoint("/userinfo"))
    client_auth = build_client_authenticator(
        clients,
        runtime.outbound,
        store,
        issuer=settings.issuer,
        token_endpoint=settings.endpoint("/token"),
        leeway=settings.leeway,
        allow_private_urls=settings.allow_private_urls,
        clock=clock,
    )
    users = UserDirectory.from_settings(db_sessions, settings, clock=clock)
    codes = AuthorizationCodes(store, settings.authorization_code_ttl)
    refresh_tokens = RefreshTokens.from_settings(runtime.engine, db_sessions, settings, clock)
    denylist = AccessTokenDenyList(db_sessions, clock)
    login_transactions = LoginTransactions(store, https=settings.https)
    consents = ConsentRecords(db_sessions, clock)
    sign_in = SignInMethods(settings.upstreams, build_connectors(settings, runtime.http_client, clock), settings.issuer)
    login_limits = LoginLimits(
        limiter,
        per_ip=settings.login_rate_limit_ip,
        per_username=settings.login_rate_limit_username,
        per_start_ip=settings.login_start_rate_limit_ip,
    )
    own_keys = SnapshotKeyResolver(settings.issuer, runtime.current_keys.current)
    grants = build_grants(settings, runtime, users=users, codes=codes, refresh_tokens=refresh_tokens, denylist=denylist, targets=targets)
    dpop_proofs = token_request_proofs(
        store, token_url=settings.endpoint("/token"), max_age=settings.dpop_proof_max_age, leeway=settings.leeway, nonce=settings.dpop_nonce, clock=clock
    )
    token_limits = TokenLimits(limiter, per_client=settings.token_rate_limit)
    registrar = ClientRegistrar(
        clients,
        db_sessions,
        # Initial access tokens are our access tokens for the registration endpoint (RFC 7591 §3).
        userinfo_verifier(own_keys, audience=settings.endpoint("/register"), leeway=settings.leeway, store=store, dpop_policy=dpop_proofs.policy, clock=clock),
        denylist,
        registration_endpoint=settings.endpoint("/register"),
        open_registration=settings.open_registration,
    )
    return Services(
        clock=clock,
        clients=clients,
        resources=resources,
        client_auth=client_auth,
        users=users,
        sign_in=sign_in,
        codes=codes,
        refresh_tokens=refresh_tokens,
        denylist=denylist,
        browser_sessions=BrowserSessions(store, https=settings.https, ttl=settings.session_ttl, idle_ttl=settings.session_idle_ttl, clock=clock),
        login_transactions=login_transactions,
        pending_upstream_logins=PendingUpstreamLogins(store),
        consents=consents,
        login_limits=login_limits,
        token_limits=token_limits,
        registrar=registrar,
        registration_limits=RegistrationLimits(limiter, per_ip=settings.registration_rate_limit),
        flow=AuthorizationFlow(
            issuer=settings.issuer,
            clients=clients,
            users=users,
            codes=codes,
            consents=consents,
            transactions=login_transactions,
            sign_in=sign_in,
            login_limits=login_limits,
            targets=targets,
            clock=clock,
        ),
        grants=grants,
        issued_tokens=IssuedTokens(own_keys, refresh_tokens, denylist, leeway=settings.leeway, clock=clock),
        own_keys=own_keys,
        userinfo_verifier=userinfo_verifier(
            own_keys, audience=settings.endpoint("/userinfo"), leeway=settings.leeway, store=store, dpop_policy=dpop_proofs.policy, clock=clock
        ),
        dpop_proofs=dpop_proofs,
        current_keys=runtime.current_keys,
        backends=runtime.backends,
        metrics=metrics,
        discovery_bytes=discovery_document(settings, sorted(grants)),
        jwks_max_age=settings.jwks_max_age,
        token_endpoint_services=TokenEndpointServices(client_auth, token_limits, grants, metrics, dpop_proofs, clients),
    )


class Composition:
    """The services of the runtime the lifespan opened; dependency providers read from here."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the token service has not started (its lifespan opens the runtime)")
        return self._services

    def bind(self, services: Services | None) -> None:
        self._services = services

    def provider(self, name: str) -> Provide:
        def provide() -> Any:
            return getattr(self.services, name)

        return Provide(provide, sync_to_thread=False)

    def dependencies(self) -> dict[str, Provide]:
        return {field.name: self.provider(field.name) for field in fields(Services)}

    async def registered_origins(self) -> frozenset[str]:
        """CORS origins from the registered clients (none before start-up)."""
        if self._services is None:
            return frozenset()
        clients = self._services.clients
        return frozenset(origin for client in await clients.list() for origin in client.origins()) | clients.document_origins()


class TokenServiceApp(Litestar):
    """Litestar with the edge layer (http/edge.py) around its whole ASGI entry point.

    Wrapping `__call__`, the ASGI contract itself, rather than an internal attribute of
    Litestar: unmatched paths and error answers get the same headers, log line and metrics
    as routed requests, and no framework upgrade can silently unwrap it.
    """

    def __init__(self, *, edge_layer: Callable[[ASGIApp], ASGIApp], **config: Any) -> None:
        super().__init__(**config)
        self._edge = edge_layer(cast(ASGIApp, super().__call__))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        await self._edge(scope, receive, send)


def create_app(settings: TokenServiceSettings, *, clock: Clock = system_clock) -> Litestar:
    """Build the app; the runtime (database, keys) is opened in the lifespan."""
    composition = Composition()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, clock=clock)
        metrics.watch_keys(lambda: runtime.current_keys.snapshot)
        composition.bind(build_services(settings, runtime, metrics))
        runtime.start_background()
        # Everything loaded so far (modules, app, runtime) lives as long as the process.
        # Moving it out of the collector's reach shortens each full collection from ~45 ms
        # (measured, ~140 000 objects) to the objects requests create: a 45 ms stall at
        # 32 concurrent connections was a p99 of its own.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an embedding process (tests) may start many apps: let this one's cycles go
            composition.bind(None)
            await runtime.close()

    metrics = TokenServiceMetrics(clock)
    origins = AllowedOrigins(composition.registered_origins)
    brand = Branding.of(name=settings.brand_name, logo_url=settings.brand_logo_url, accent_color=settings.brand_accent_color)
    proxies = TrustedProxies.parse(settings.trusted_proxies)

    def edge_layer(app: ASGIApp) -> ASGIApp:
        wrapped = edge(app, observer=metrics, https=settings.https, origins=origins, proxies=proxies)
        if settings.metrics_port is None:
            return wrapped
        # Outermost: the metrics port answers /metrics and nothing else, before any app logic.
        return metrics_listener(wrapped, metrics, settings.metrics_port)

    return TokenServiceApp(
        edge_layer=edge_layer,
        route_handlers=[
            discovery,
            jwks,
            token_endpoint,
            revoke,
            introspect,
            authorize,
            authorize_continue,
            consent,
            login,
            password_login,
            upstream_login,
            upstream_callback,
            userinfo,
            logout,
            healthz,
            readyz,
            *REGISTRATION_ROUTES,
            # With a metrics port, /metrics is answered there only (metrics_listener): the
            # main port is what proxies forward to the world.
            *([metrics_endpoint] if settings.metrics_port is None else []),
            stylesheet_route(brand),
        ],
        dependencies=composition.dependencies(),
        # Every route needs both backends unless its `opt` names fewer (http/routes.py).
        guards=[backend_guard(lambda: composition.services.backends)],
        template_config=page_templates(brand),
        lifespan=[lifespan],
        state=State({"settings": settings, "metrics": metrics}),
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="token-service", version="0.1.0", path="/schema"),
        request_max_body_size=1024 * 1024,
        debug=False,
        # Logging is configured once by `serve`/`dev` (observability.logging); Litestar's
        # default would replace the root handler and bypass redaction.
        logging_config=None,
    )
