"""Registration's storage (origin, registration token hash, last use, expiry) on both databases."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support.clock import FakeClock
from tests.support.token_service import issuer_settings, running_token_service
from token_service.clients.registry import ClientRegistry
from token_service.db.engine import create_engine, session_factory

REDIRECT = "http://127.0.0.1:9999/callback"


def test_registration_storage_and_expiry(make_settings: Any) -> None:
    settings = issuer_settings(make_settings, open_registration=True)
    with running_token_service(settings) as service:
        body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"], "client_name": "Stored"}
        info = httpx.post(f"{service.url}/register", json=body).json()
        headers = {"Authorization": f"Bearer {info['registration_access_token']}"}
        assert httpx.get(info["registration_client_uri"], headers=headers).json()["client_name"] == "Stored"

        async def stored_secrets() -> list[str]:
            engine = create_engine(settings)
            try:
                async with engine.connect() as connection:
                    row = (await connection.execute(text("SELECT * FROM clients WHERE client_id = :id"), {"id": info["client_id"]})).one()
                return [str(value) for value in row]
            finally:
                await engine.dispose()

        # The registration access token is stored only as its hash (RFC 7592 §1.1 leaves how to us).
        values = asyncio.run(stored_secrets())
        assert not any(info["registration_access_token"] in value for value in values)
        assert any(value.startswith("sha256$") for value in values)

        async def expire() -> tuple[str | None, bool, int, bool]:
            engine = create_engine(settings)
            try:
                now = ClientRegistry(session_factory(engine), {}, unused_open_ttl=settings.open_registration_unused_ttl)
                stored = await now.get(info["client_id"])
                ttl = settings.open_registration_unused_ttl
                later = ClientRegistry(session_factory(engine), {}, clock=FakeClock(time.time() + ttl + 1), unused_open_ttl=ttl)
                removed = await later.remove_unused_open_registrations()
                fresh = ClientRegistry(session_factory(engine), {})
                return (stored.source if stored else None), bool(stored and stored.registered_openly), removed, await fresh.get(info["client_id"]) is None
            finally:
                await engine.dispose()

        # The service's registry caches lookups for a few seconds; a fresh one reads the row.
        assert asyncio.run(expire()) == ("dynamic", True, 1, True)
        time.sleep(5.1)
        assert httpx.get(info["registration_client_uri"], headers=headers).status_code == 401


pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
