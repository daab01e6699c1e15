"""Everything a running token service holds: settings, database, keys, clients.

Built at start-up from the validated settings and handed to endpoints through the
application state, so nothing is global and tests can run several instances side by side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from token_service.backends import BackendHealth
from token_service.clients.authentication import ClientAuthenticator
from token_service.clients.wiring import build_client_authenticator
from token_service.clients.registry import ClientRegistry, config_clients
from token_service.outbound import OutboundFetcher
from token_service.db import migrate
from token_service.db.engine import create_engine, session_factory
from token_service.grants.codes import AuthorizationCodes
from token_service.keys.keyring import KeySnapshot
from token_service.login.connectors.base import UpstreamConnector, build_connectors
from token_service.login.sessions import BrowserSessions
from token_service.login.transactions import LoginTransactions
from token_service.ratelimit import LoginLimits, RateLimiter, TokenLimits, limiter_storage
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.refresh import RefreshTokens
from token_service.users.directory import UserDirectory
from token_service.keys.sealing import KeyDecryptionError, load_kek
from token_service.keys.service import KeyService
from token_service.store import EphemeralStore, open_store
from token_service.settings import ConfigurationError, TokenServiceSettings
from token_service.tokens.signer import TokenSigner

log = logging.getLogger("token_service")

KEY_POLL_SECONDS = 5.0


@dataclass
class Runtime:
    settings: TokenServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyService
    clients: ClientRegistry
    store: EphemeralStore
    users: UserDirectory
    connectors: dict[str, UpstreamConnector]
    http_client: httpx.AsyncClient
    codes: AuthorizationCodes
    refresh_tokens: RefreshTokens
    denylist: AccessTokenDenyList
    browser_sessions: BrowserSessions
    transactions: LoginTransactions
    login_limits: LoginLimits
    token_limits: TokenLimits
    outbound: OutboundFetcher
    client_auth: ClientAuthenticator
    snapshot: KeySnapshot | None = None
    signer: TokenSigner = field(init=False)
    backends: BackendHealth = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.signer = TokenSigner(self.current_snapshot)
        self.backends = BackendHealth(self.database_ready, self.store.ping)

    def current_snapshot(self) -> KeySnapshot:
        if self.snapshot is None:
            raise RuntimeError("keys are not loaded")
        return self.snapshot

    async def reload_keys(self) -> None:
        self.snapshot = await self.keys.snapshot(previous=self.snapshot)

    async def _poll_keys(self) -> None:
        # Another instance (or the CLI) may rotate keys; each instance picks the change up
        # within KEY_POLL_SECONDS and serves the JWKS built from the same rows.
        while True:
            await asyncio.sleep(KEY_POLL_SECONDS)
            try:
                # Due transitions first, so this reload already reflects them; under the
                # transitions lock only one instance performs each.
                await self.keys.advance(utc_now())
                await self.reload_keys()
            except Exception as exc:  # keep serving the last snapshot while the database is away
                log.warning("reloading signing keys failed; serving the last snapshot: %s", exc)

    async def database_ready(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def start_background(self) -> None:
        self._tasks.append(asyncio.create_task(self._poll_keys()))
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


async def open_runtime(settings: TokenServiceSettings, *, migrate_now: bool = False) -> Runtime:
    """Connect, migrate where allowed, load keys. Raises ConfigurationError with the fix."""
    kek = load_kek(settings)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    store = open_store(settings.redis_url, settings.redis_prefix)
    limiter = RateLimiter(limiter_storage(settings))
    http_client = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
    outbound = OutboundFetcher()
    clients = ClientRegistry(sessions, config_clients(settings.clients), allow_private_urls=settings.allow_private_urls)
    try:
        runtime = Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            keys=KeyService.from_settings(sessions, kek, settings),
            clients=clients,
            store=store,
            users=UserDirectory(sessions, settings),
            connectors=build_connectors(settings, http_client),
            http_client=http_client,
            codes=AuthorizationCodes(store, settings.authorization_code_ttl),
            refresh_tokens=RefreshTokens(engine, sessions, settings),
            denylist=AccessTokenDenyList(sessions),
            browser_sessions=BrowserSessions(store, settings),
            transactions=LoginTransactions(store, settings),
            login_limits=LoginLimits(limiter, settings),
            token_limits=TokenLimits(limiter, settings),
            outbound=outbound,
            client_auth=build_client_authenticator(
                clients,
                outbound,
                store,
                issuer=settings.issuer,
                token_endpoint=settings.endpoint("/token"),
                leeway=settings.leeway,
                allow_private_urls=settings.allow_private_urls,
            ),
        )
        await prepare_database(engine, settings, migrate_now=migrate_now)
        await runtime.keys.ensure_signing_key()
        await runtime.reload_keys()
    except KeyDecryptionError as exc:
        await engine.dispose()
        await store.close()
        await http_client.aclose()
        await outbound.aclose()
        raise ConfigurationError(f"TOKEN_SERVICE_KEY_ENCRYPTION_KEY: {exc}") from None
    except BaseException:
        await engine.dispose()
        await store.close()
        await http_client.aclose()
        await outbound.aclose()
        raise
    return runtime


def utc_now() -> int:
    return int(time.time())
