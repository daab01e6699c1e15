"""One token service (SQLite, private URLs allowed, as in development), one client key
server and one resource API for the private_key_jwt tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.client_keys import ClientKeyServer, client_key_server
from tests.support.live_server import LiveServer, free_port, live_server, wait_ready
from tests.support.token_service import RunningTokenService, running_token_service
from token_service.settings import load_settings


@pytest.fixture(scope="module")
def key_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTokenService]:
    port = free_port()
    settings = load_settings(
        {"TOKEN_SERVICE_DATA_DIR": str(tmp_path_factory.mktemp("token-service"))},
        issuer=f"http://127.0.0.1:{port}",
        port=port,
        allow_private_urls=True,
    )
    with running_token_service(settings) as service:
        yield service


@pytest.fixture(scope="module")
def notes_api(key_service: RunningTokenService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    database = tmp_path_factory.mktemp("notes") / "notes.db"
    settings = ResourceApiSettings(issuer=key_service.url, audience=f"http://127.0.0.1:{port}", database_url=f"sqlite+aiosqlite:///{database}")
    with live_server(create_resource_app(settings), port=port) as server:
        wait_ready(server.url)
        yield server


@pytest.fixture
def key_server() -> Iterator[ClientKeyServer]:
    with client_key_server() as server:
        yield server


