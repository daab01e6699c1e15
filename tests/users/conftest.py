from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support.token_service import upgrade_database
from token_service.db.engine import create_engine, session_factory
from token_service.settings import TokenServiceSettings
from token_service.users.directory import UserDirectory

UPSTREAMS: list[dict[str, Any]] = [
    {"name": "corp", "kind": "oidc", "issuer": "https://corp.example", "client_id": "ts", "verifies_email": True},
    {"name": "partner", "kind": "oidc", "issuer": "https://partner.example", "client_id": "ts", "verifies_email": True},
    {"name": "social", "kind": "oidc", "issuer": "https://social.example", "client_id": "ts", "verifies_email": False},
    {"name": "github", "kind": "github", "client_id": "gh", "client_secret": "gh-secret", "verifies_email": True},
    {"name": "local", "kind": "password"},
]


@pytest.fixture
def settings(make_settings: Any) -> TokenServiceSettings:
    """A migrated database on the selected backend, with the upstreams above configured."""
    settings: TokenServiceSettings = make_settings(upstreams=UPSTREAMS)
    upgrade_database(settings)
    return settings


@asynccontextmanager
async def open_directory(settings: TokenServiceSettings) -> AsyncIterator[UserDirectory]:
    engine = create_engine(settings)
    try:
        yield UserDirectory.from_settings(session_factory(engine), settings)
    finally:
        await engine.dispose()


@pytest.fixture
async def directory(settings: TokenServiceSettings) -> AsyncIterator[UserDirectory]:
    async with open_directory(settings) as directory:
        yield directory
