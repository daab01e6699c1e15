"""The example resource API: notes guarded by access tokens from the token service."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from resource_api import db
from resource_api.demo import demo_routes
from resource_api.errors import exception_handlers
from resource_api.health import healthz, readyz
from resource_api.me import me
from resource_api.mcp import mcp_endpoint
from resource_api.metrics import metrics_endpoint, rejection_log, rejection_observer
from resource_api.notes.controller import NotesController
from resource_api.settings import ResourceApiSettings
from shared import AccessTokenVerifier, JwksCache
from shared.dpop import MemoryReplayCache, RedisReplayCache, ReplayCache
from shared.dpop.resource import DPoPOptions
from shared.litestar import BearerAuthPlugin
from shared.metrics import VerifierMetrics
from shared.status_list import StatusListCache
from shared.resource_metadata import ProtectedResource

__all__ = ["PUBLIC_PATHS", "create_app"]

#: Paths served without a token: the demo page at /, its assets and config, API docs.
PUBLIC_PATHS = ("^/$", "^/static/", "^/demo-config.json$", "^/schema")


def create_app(settings: ResourceApiSettings, *, http_client: httpx.AsyncClient | None = None) -> Litestar:
    """Build the app; nothing is connected until start-up, and the issuer may still be down then.

    `http_client` is used to reach the issuer (tests pass one; it is not closed here).
    """
    jwks = JwksCache(settings.issuer, http_client=http_client, error_backoff=settings.jwks_retry_seconds, min_ttl=settings.jwks_min_ttl)
    status_lists = StatusListCache(
        jwks, http_client=http_client, max_stale=settings.status_list_max_stale, max_bytes=settings.status_list_max_bytes, leeway=settings.leeway
    )
    verifier = AccessTokenVerifier(
        jwks,
        issuer=settings.issuer,
        audience=settings.audience,
        leeway=settings.leeway,
        status_lists=status_lists if settings.check_token_status else None,
    )
    engine = db.create_engine(settings.database_url)
    sessions = db.session_factory(engine)
    metrics = VerifierMetrics(jwks, namespace="resource_api")
    replay: ReplayCache = (
        RedisReplayCache.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}dpop-jti:")
        if settings.redis_url
        else MemoryReplayCache()
    )
    dpop = DPoPOptions(public_url=settings.dpop_public_url, require=settings.require_dpop, replay=replay)
    mcp = mcp_endpoint(
        settings, jwks=jwks, sessions=sessions, dpop=dpop, on_rejection=rejection_log(metrics), status_lists=verifier.status_lists
    )
    # RFC 9728: served at /.well-known/oauth-protected-resource and named in every challenge.
    metadata = ProtectedResource(resource_name="Notes API", scopes_supported=("notes:read", "notes:write"))

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # Base.metadata holds every model the routes above use: they import their models.
        await db.create_tables(engine, db.Base.metadata)
        # Keys load (and are retried) in the background, so the API starts even when
        # the issuer is not up yet; /readyz reports when tokens can be checked.
        key_refresher = asyncio.create_task(jwks.keep_fresh(), name="jwks-keep-fresh")
        warmer = asyncio.create_task(status_lists.keep_warm(), name="status-lists-warm") if settings.check_token_status else None
        # Start-up objects live as long as the process: keep full collections (tens of ms
        # with them) from stalling requests.
        gc.freeze()
        try:
            async with mcp.running():
                yield
        finally:
            gc.unfreeze()
            key_refresher.cancel()
            if warmer is not None:
                warmer.cancel()
            await status_lists.aclose()
            await jwks.aclose()
            await engine.dispose()
            if isinstance(replay, RedisReplayCache):
                await replay.aclose()

    def provide_jwks() -> JwksCache:
        return jwks

    async def provide_db_session() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    return Litestar(
        route_handlers=[healthz, readyz, metrics_endpoint, me, NotesController, *mcp.route_handlers, *demo_routes(settings)],
        dependencies={
            "jwks": Provide(provide_jwks, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
        },
        plugins=[
            BearerAuthPlugin(verifier, exclude=PUBLIC_PATHS, on_rejection=rejection_observer(metrics), dpop=dpop, metadata=metadata)
        ],
        state=State({"verifier_metrics": metrics}),
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        # Logging belongs to the process (`resource-api serve`, `token-service dev`);
        # Litestar's default would replace the root handler.
        logging_config=None,
    )
