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
from dataclasses import fields
from typing import Any, cast

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from token_service.clock import Clock, system_clock
from token_service.endpoints.authorize import authorize, authorize_continue, consent
from token_service.endpoints.discovery import discovery, jwks
from token_service.endpoints.health import healthz, readyz
from token_service.endpoints.introspect import introspect
from token_service.endpoints.login import login, password_login, upstream_callback, upstream_login
from token_service.endpoints.logout import logout
from token_service.endpoints.revoke import revoke
from token_service.endpoints.status_lists import status_list, status_list_aggregation
from token_service.endpoints.token import token_route
from token_service.endpoints.userinfo import userinfo
from token_service.http.client_address import TrustedProxies
from token_service.http.cors import AllowedOrigins
from token_service.http.direct import DirectRoute, direct_dispatch
from token_service.http.edge import edge
from token_service.http.errors import EXCEPTION_HANDLERS
from token_service.http.routes import backend_check
from token_service.observability.metrics import TokenServiceMetrics, metrics_endpoint, metrics_listener
from token_service.pages import Branding, page_templates, stylesheet_route
from token_service.registration.endpoints import ROUTES as REGISTRATION_ROUTES
from token_service.runtime import open_runtime
from token_service.services import Services, build_services
from token_service.settings import TokenServiceSettings


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

    def __init__(self, *, edge_layer: Callable[[ASGIApp], ASGIApp], direct: DirectRoute, **config: Any) -> None:
        config["route_handlers"] = [direct.handler, *config["route_handlers"]]
        super().__init__(**config)
        # `POST /token` straight from the edge (http/direct.py); everything else through Litestar.
        self._edge = edge_layer(direct_dispatch(self, direct, cast(ASGIApp, super().__call__)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        await self._edge(scope, receive, send)


def create_app(settings: TokenServiceSettings, *, clock: Clock = system_clock) -> Litestar:
    """Build the app; the runtime (database, keys) is opened in the lifespan."""
    composition = Composition()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, clock=clock)
        metrics.watch_keys(lambda: runtime.current_keys.snapshot)
        services = build_services(settings, runtime, metrics)
        composition.bind(services)
        runtime.start_background()
        # The lists are in memory before the first request, then kept current in the background.
        publishing = await services.status_lists.start()
        # Everything loaded so far (modules, app, runtime) lives as long as the process.
        # Moving it out of the collector's reach shortens each full collection from ~45 ms
        # (measured, ~140 000 objects) to the objects requests create: a 45 ms stall at
        # 32 concurrent connections was a p99 of its own.
        gc.freeze()
        try:
            yield
        finally:
            await services.status_lists.stop(publishing)
            if services.token_endpoint_services.status_indices is not None:
                await services.token_endpoint_services.status_indices.close()  # writes the entries still queued
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
        direct=token_route(lambda: composition.services.token_endpoint_services),
        route_handlers=[
            discovery,
            jwks,
            revoke,
            introspect,
            status_list,
            status_list_aggregation,
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
        before_request=backend_check(lambda: composition.services.backends),
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
