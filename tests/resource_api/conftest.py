from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from resource_api.app import create_app
from resource_api.settings import ResourceApiSettings
from tests.support.fake_issuer import FakeIssuer
from tests.support.issuer_fixtures import issuer, key1

__all__ = ["AUDIENCE", "bearer", "issuer", "key1", "settings_for"]

AUDIENCE = "http://127.0.0.1:8001"


def settings_for(issuer_url: str, tmp_path: Path) -> ResourceApiSettings:
    return ResourceApiSettings(
        issuer=issuer_url,
        audience=AUDIENCE,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db",
        jwks_retry_seconds=0.05,
    )


@pytest.fixture
async def client(issuer: FakeIssuer, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(settings_for(issuer.issuer, tmp_path))
    async with AsyncTestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
