"""Start a real token service (uvicorn, free loopback port) for tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.live_server import free_port, live_server
from token_service.app import create_app
from token_service.clients.metadata import ClientMetadata
from token_service.clients.registry import ClientRegistry
from token_service.clients.secrets import generate_client_secret, hash_client_secret
from token_service.db.engine import create_engine, session_factory
from token_service.runtime import prepare_database
from token_service.settings import TokenServiceSettings


@dataclass
class RunningTokenService:
    url: str
    settings: TokenServiceSettings

    def add_client(self, **fields: Any) -> tuple[str, str | None]:
        return register_client(self.settings, **fields)


def register_client(settings: TokenServiceSettings, **fields: Any) -> tuple[str, str | None]:
    """Registers a client in the service's database, as `token-service clients add` does."""
    public = bool(fields.get("public", False))
    secret = None if public else fields.pop("secret", None) or generate_client_secret()
    fields.setdefault("client_id", f"test-{generate_client_secret()[:10]}")
    fields.setdefault("grant_types", ["client_credentials"])

    uses_keys = fields.get("token_endpoint_auth_method") == "private_key_jwt" or "jwks" in fields or "jwks_uri" in fields
    if uses_keys:
        secret = None
    metadata = ClientMetadata(client_secret_hash=hash_client_secret(secret) if secret else None, **fields)

    async def run() -> None:
        engine = create_engine(settings)
        try:
            registry = ClientRegistry(session_factory(engine), {}, allow_private_urls=settings.allow_private_urls)
            await registry.add(metadata)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return fields["client_id"], secret


def issuer_settings(make_settings: Any, port: int | None = None, **overrides: Any) -> TokenServiceSettings:
    port = port or free_port()
    return make_settings(issuer=f"http://127.0.0.1:{port}", port=port, **overrides)


def upgrade_database(settings: TokenServiceSettings) -> None:
    """`token-service db upgrade`, as an operator runs it before `serve` on PostgreSQL."""

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await prepare_database(engine, settings, migrate_now=True)
        finally:
            await engine.dispose()

    asyncio.run(run())


@contextmanager
def running_token_service(settings: TokenServiceSettings) -> Iterator[RunningTokenService]:
    upgrade_database(settings)
    with live_server(create_app(settings), port=settings.port) as server:
        yield RunningTokenService(url=server.url, settings=settings)


def decode_segment(token: str, index: int) -> dict[str, Any]:
    import base64

    segment = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))
