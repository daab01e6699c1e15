"""The lifecycle owner of a running token service: what is opened at start and closed at stop.

The database engine, the ephemeral store, the HTTP client for upstream logins, the
SSRF-safe fetcher for client-supplied URLs (`outbound/`) and the signing keys,
plus the two background tasks (key polling, backend monitor). It holds no request logic:
the composition root (app.py) builds the narrow services from these resources once and
hands each handler only the ones it names. Nothing is global, so tests can run several
instances side by side.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from token_service.backends import BackendHealth
from token_service.clock import Clock, system_clock
from token_service.db import migrate
from token_service.db.engine import create_engine, session_factory
from token_service.db.sqlite_direct import close_direct_connection
from token_service.keys.current import CurrentKeys
from token_service.keys.sealing import KeyDecryptionError, load_kek
from token_service.keys.service import KeyService
from token_service.outbound import OutboundFetcher
from token_service.store import EphemeralStore
from token_service.store.choice import store_for
from token_service.settings import ConfigurationError, TokenServiceSettings

KEY_POLL_SECONDS = 5.0


@dataclass
class Runtime:
    clock: Clock
    engine: AsyncEngine
    db_sessions: async_sessionmaker[AsyncSession]
    store: EphemeralStore
    http_client: httpx.AsyncClient
    outbound: OutboundFetcher
    keys: KeyService
    current_keys: CurrentKeys
    backends: BackendHealth = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _probe_engine: AsyncEngine | None = None

    def __post_init__(self) -> None:
        self.backends = BackendHealth(self.database_ready, self.store.ping)

    async def database_ready(self) -> bool:
        # Its own unpooled connection: under load every pooled connection is busy, and a ping
        # queued behind requests would time out with the database perfectly healthy.
        if self._probe_engine is None:
            self._probe_engine = create_async_engine(self.engine.url, poolclass=NullPool)
        try:
            async with self._probe_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def start_background(self) -> None:
        self._tasks.append(asyncio.create_task(self.current_keys.poll(KEY_POLL_SECONDS)))
        self._tasks.append(asyncio.create_task(self.backends.monitor()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.store.close()
        await self.http_client.aclose()
        await self.outbound.aclose()
        await self.engine.dispose()
        close_direct_connection(self.engine)
        if self._probe_engine is not None:
            await self._probe_engine.dispose()


async def prepare_database(engine: AsyncEngine, settings: TokenServiceSettings, *, migrate_now: bool) -> None:
    """Migrate (embedded default, or when asked) or insist the schema is current."""
    try:
        if migrate_now or settings.is_embedded:
            await migrate.upgrade(engine)
        elif not await migrate.is_up_to_date(engine):
            raise ConfigurationError(
                "TOKEN_SERVICE_DATABASE_URL: the database schema is not at the current version; "
                "run `token-service db upgrade` (or `serve --migrate`) first"
            )
    except (OSError, SQLAlchemyError) as exc:
        raise ConfigurationError(
            f"TOKEN_SERVICE_DATABASE_URL: cannot use the database ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "check the URL, that the server is running, and that the database exists"
        ) from None


async def open_runtime(settings: TokenServiceSettings, *, migrate_now: bool = False, clock: Clock = system_clock) -> Runtime:
    """Connect, migrate where allowed, load keys. Raises ConfigurationError with the fix."""
    kek = load_kek(settings)
    engine = create_engine(settings)
    db_sessions = session_factory(engine)
    store = store_for(settings)
    http_client = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
    outbound = OutboundFetcher()
    keys = KeyService.from_settings(db_sessions, kek, settings, clock=clock)
    try:
        runtime = Runtime(
            clock=clock,
            engine=engine,
            db_sessions=db_sessions,
            store=store,
            http_client=http_client,
            outbound=outbound,
            keys=keys,
            current_keys=CurrentKeys(keys, clock),
        )
        await prepare_database(engine, settings, migrate_now=migrate_now)
        await keys.ensure_signing_key()
        await runtime.current_keys.reload()
    except BaseException as exc:
        await engine.dispose()
        await store.close()
        await http_client.aclose()
        await outbound.aclose()
        if isinstance(exc, KeyDecryptionError):
            raise ConfigurationError(f"TOKEN_SERVICE_KEY_ENCRYPTION_KEY: {exc}") from None
        raise
    return runtime
