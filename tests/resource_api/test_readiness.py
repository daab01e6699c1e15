"""The API starts without its issuer, says so on /readyz, and recovers when the issuer appears."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from joserfc.jwk import RSAKey
from litestar.testing import AsyncTestClient

from resource_api.app import create_app
from tests.resource_api.conftest import AUDIENCE, bearer, settings_for
from tests.support.fake_issuer import running_issuer
from tests.support.live_server import free_port


async def wait_for_status(client: AsyncTestClient, path: str, status: int) -> int:  # type: ignore[type-arg]
    """Poll until the status appears (or give up after 20 s and return the last one)."""
    deadline = time.monotonic() + 20
    while True:
        response = await client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response.status_code
        await asyncio.sleep(0.05)


async def test_readyz_follows_the_issuer_coming_up(tmp_path: Path, key1: RSAKey) -> None:
    port = free_port()
    app = create_app(settings_for(f"http://127.0.0.1:{port}", tmp_path))

    async with AsyncTestClient(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["status"] == "not_ready"

        with running_issuer([key1], port=port) as (issuer, _):
            assert await wait_for_status(client, "/readyz", 200) == 200
            ready = await client.get("/readyz")
            assert ready.json() == {"status": "ready", "issuer": issuer.issuer, "kids": ["k1"]}
            token = issuer.mint(audience=AUDIENCE, scope="notes:read")
            assert (await client.get("/notes", headers=bearer(token))).status_code == 200


async def test_requests_while_the_issuer_is_down_get_503_not_401(tmp_path: Path, key1: RSAKey) -> None:
    port = free_port()
    with running_issuer([key1], port=port) as (issuer, _):
        token = issuer.mint(audience=AUDIENCE, scope="notes:read")
    app = create_app(settings_for(f"http://127.0.0.1:{port}", tmp_path))

    async with AsyncTestClient(app) as client:
        response = await client.get("/notes", headers=bearer(token))

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "could not reach" in response.json()["error_description"]
    assert response.headers["retry-after"] == "5"
