"""`token-service serve`: check everything first, then run uvicorn."""

from __future__ import annotations

import asyncio
import os

import uvicorn
from litestar import Litestar

from token_service.app import create_app
from token_service.observability.logging import configure_logging
from token_service.runtime import open_runtime
from token_service.settings import ConfigurationError, TokenServiceSettings, load_settings


async def preflight(settings: TokenServiceSettings, *, migrate_now: bool) -> None:
    """Open and close the runtime once so configuration and database problems stop
    start-up with a clear message (exit 2) instead of a traceback inside the server."""
    runtime = await open_runtime(settings, migrate_now=migrate_now)
    await runtime.close()


def worker_app() -> Litestar:
    """The app of one worker process; each worker reads the same settings and loads the keys once."""
    settings = load_settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def default_workers(settings: TokenServiceSettings) -> int:
    # The in-process store lives in one process: codes and sessions made by one worker
    # would be invisible to the others. Several workers need Redis.
    return (os.cpu_count() or 1) if settings.redis_url else 1


def check_workers(settings: TokenServiceSettings, workers: int) -> None:
    if workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    if workers > 1 and settings.redis_url is None:
        raise ConfigurationError(
            "--workers: several worker processes need a shared store; set TOKEN_SERVICE_REDIS_URL "
            "(the in-process store is private to one process), or run with --workers 1"
        )


def serve(settings: TokenServiceSettings, *, host: str | None, port: int | None, migrate_now: bool, workers: int | None = None) -> int:
    configure_logging(settings.log_format)
    count = workers if workers is not None else default_workers(settings)
    check_workers(settings, count)
    asyncio.run(preflight(settings, migrate_now=migrate_now))
    options = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": "info",
        "access_log": False,
        "log_config": None,
        # No `server: uvicorn` banner: it tells an attacker the stack, and costs every response a header.
        "server_header": False,
    }
    if count == 1:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
    else:
        uvicorn.run("token_service.serve:worker_app", factory=True, workers=count, **options)  # type: ignore[arg-type]
    return 0
