"""The token service as a Litestar application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi.config import OpenAPIConfig

from token_service.endpoints.discovery import discovery, discovery_document, jwks
from token_service.endpoints.health import healthz, readyz
from token_service.endpoints.token import GRANTS, token_endpoint
from token_service.http.errors import EXCEPTION_HANDLERS
from token_service.http.headers import security_headers_middleware
from token_service.runtime import Runtime, open_runtime
from token_service.settings import TokenServiceSettings


def create_app(settings: TokenServiceSettings, *, runtime: Runtime | None = None) -> Litestar:
    """Build the app; the runtime (database, keys) is opened in the lifespan unless given."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        own = runtime is None
        current = runtime if runtime is not None else await open_runtime(settings)
        app.state.runtime = current
        current.start_background()
        try:
            yield
        finally:
            if own:
                await current.close()

    state = State({"settings": settings, "discovery_bytes": discovery_document(settings, sorted(GRANTS))})
    return Litestar(
        route_handlers=[discovery, jwks, token_endpoint, healthz, readyz],
        lifespan=[lifespan],
        state=state,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[security_headers_middleware(https=settings.https)],
        openapi_config=OpenAPIConfig(title="token-service", version="0.1.0", path="/schema"),
        request_max_body_size=1024 * 1024,
        debug=False,
    )
