from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import PG_HOST, PG_PORT, PostgresDatabases, require_service
from token_service.keys.sealing import new_kek_text
from token_service.settings import TokenServiceSettings, load_settings


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_service("PostgreSQL", PG_HOST, PG_PORT)
    return str(request.param)


SettingsFactory = Callable[..., TokenServiceSettings]


@pytest.fixture
def make_settings(backend: str, tmp_path: Path, postgres_databases: PostgresDatabases) -> SettingsFactory:
    """Settings for one token-service instance on the selected backend (a fresh database each call
    unless `database_url` is given, so two instances can share one)."""

    def factory(**overrides: Any) -> TokenServiceSettings:
        env: dict[str, str] = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path / f"data-{len(os.listdir(tmp_path))}")}
        if backend == "postgres" and "database_url" not in overrides:
            overrides["database_url"] = postgres_databases.create()
        if backend == "postgres" and "key_encryption_key" not in overrides:
            overrides["key_encryption_key"] = new_kek_text()
        return load_settings(env, **overrides)

    return factory
