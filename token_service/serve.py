"""`token-service serve`: check everything first, then run uvicorn."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from litestar import Litestar
from uvicorn.supervisors import Multiprocess

from token_service.app import create_app
from token_service.diagnostics.local_database import describe_database
from token_service.http.read_deadlines import ServeConfig
from token_service.http.worker_listeners import address_for_workers, tcp_socket
from token_service.observability.logging import configure_logging
from token_service.observability.metrics import MULTIPROCESS_DIR
from token_service.runtime import open_runtime
from token_service.settings import ConfigurationError, TokenServiceSettings, load_settings
from token_service.store.choice import describe_store


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


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def default_workers(settings: TokenServiceSettings) -> int:
    # A worker per core: each signs on its own event loop, and the ephemeral state they
    # must share lives in Redis or in the SQLite file store. Only the in-process store
    # (codes made by one worker invisible to the others) keeps to one.
    return usable_cores() if settings.shares_ephemeral_state else 1


def check_workers(settings: TokenServiceSettings, workers: int) -> None:
    if workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    if workers > 1 and not settings.shares_ephemeral_state:
        raise ConfigurationError(
            "--workers: several worker processes need a shared store, and TOKEN_SERVICE_EPHEMERAL_STORE=memory is private "
            "to one process; unset it (the SQLite file store is the default) or set TOKEN_SERVICE_REDIS_URL, or run with --workers 1"
        )


def start_line(settings: TokenServiceSettings, workers: int, host: str, port: int) -> str:
    """What `serve` runs on, printed once at start (operators size and debug from it)."""
    process = "worker process" if workers == 1 else "worker processes, each with its own listening socket,"
    return (
        f"token-service: {workers} {process} on http://{host}:{port} ({usable_cores()} cores), "
        "signing on each worker's event loop (no signing threads); "
        f"database {describe_database(settings)}; ephemeral state: {describe_store(settings)}"
    )


def server_config(settings: TokenServiceSettings, app: Any, *, host: str, port: int, workers: int, factory: bool = False) -> ServeConfig:
    """The uvicorn configuration of `serve`: the limits a server facing the network needs."""
    return ServeConfig(
        app,
        factory=factory,
        host=host,
        port=port,
        workers=workers,
        header_timeout=settings.http_header_timeout,
        body_timeout=settings.http_body_timeout,
        # uvicorn answers 503 beyond this many connections or running requests per worker.
        limit_concurrency=settings.http_max_concurrency,
        timeout_keep_alive=5,
        # A worker answers the supervisor's health ping only once its imports are done; on
        # a busy host that took over uvicorn's 5 s, and healthy workers were killed in a loop.
        timeout_worker_healthcheck=30,
        # Never rewrite the client address from X-Forwarded-For here: uvicorn would take the
        # left-most entry, which the client writes. The app reads the header itself, from
        # trusted proxies only (token_service.http.client_address).
        proxy_headers=False,
        log_level="info",
        access_log=False,
        log_config=None,
        # No `server: uvicorn` banner: it tells an attacker the stack, and costs every response a header.
        server_header=False,
    )


def bind(host: str, port: int, *, per_worker: bool = False) -> socket.socket:
    """The listening address; `per_worker`: each worker process listens on a socket of its own (see worker_listeners)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = address_for_workers(family) if per_worker else tcp_socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        if per_worker:
            # SO_REUSEPORT would let this start join the sockets of a server already on the
            # port (a second instance, the old one still running) and silently take half its
            # connections: a plain bind first is refused by any server listening there.
            with socket.socket(family) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port / TOKEN_SERVICE_METRICS_PORT") from None
    sock.set_inheritable(True)
    return sock


def warn_about_uvicorn_proxy_setting() -> None:
    if os.environ.get("FORWARDED_ALLOW_IPS"):
        logging.getLogger("token_service").warning(
            "FORWARDED_ALLOW_IPS is ignored: the token service reads X-Forwarded-For only from TOKEN_SERVICE_TRUSTED_PROXIES"
        )


def serve(settings: TokenServiceSettings, *, host: str | None, port: int | None, migrate_now: bool, workers: int | None = None) -> int:
    configure_logging(settings.log_format)
    count = workers if workers is not None else default_workers(settings)
    check_workers(settings, count)
    warn_about_uvicorn_proxy_setting()
    asyncio.run(preflight(settings, migrate_now=migrate_now))
    listen_host, listen_port = host or settings.host, port or settings.port
    sockets = [bind(listen_host, listen_port, per_worker=count > 1)]
    print(start_line(settings, count, listen_host, listen_port), flush=True)
    if settings.metrics_port is not None:
        # Same processes, same app, its own socket: the app answers /metrics only there.
        sockets.append(bind(listen_host, settings.metrics_port))
    if count == 1:
        config = server_config(settings, create_app(settings), host=listen_host, port=listen_port, workers=1)
        uvicorn.Server(config).run(sockets=sockets)
    else:
        config = server_config(settings, "token_service.serve:worker_app", host=listen_host, port=listen_port, workers=count, factory=True)
        with shared_metrics_directory():
            Multiprocess(config, sockets=sockets).run()
    return 0


@contextmanager
def shared_metrics_directory() -> Iterator[None]:
    """Where each worker keeps its counters, so a scrape of any worker reports them all."""
    directory = tempfile.mkdtemp(prefix="token-service-metrics-")
    previous = os.environ.get(MULTIPROCESS_DIR)
    os.environ[MULTIPROCESS_DIR] = directory
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIR, None)
        else:
            os.environ[MULTIPROCESS_DIR] = previous
        shutil.rmtree(directory, ignore_errors=True)
