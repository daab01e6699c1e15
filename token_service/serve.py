"""`token-service serve`: check everything first, then run uvicorn."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from token_service.app import create_app
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings


async def preflight(settings: TokenServiceSettings, *, migrate_now: bool) -> None:
    """Open and close the runtime once so configuration and database problems stop
    start-up with a clear message (exit 2) instead of a traceback inside the server."""
    runtime = await open_runtime(settings, migrate_now=migrate_now)
    await runtime.close()


def configure_logging(settings: TokenServiceSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def serve(settings: TokenServiceSettings, *, host: str | None, port: int | None, migrate_now: bool) -> int:
    configure_logging(settings)
    asyncio.run(preflight(settings, migrate_now=migrate_now))
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info", access_log=False)
    return 0
