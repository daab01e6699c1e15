"""A token service with open registration and private URLs allowed (as in development),
a password user, and an operator client that can get initial access tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.browser import add_user
from tests.support.live_server import free_port
from tests.support.password_login import PASSWORD
from tests.support.token_service import RunningTokenService, running_token_service
from token_service.settings import load_settings

API = "http://127.0.0.1:8001"


@dataclass
class RegistrationService:
    service: RunningTokenService
    operator_id: str
    operator_secret: str

    @property
    def url(self) -> str:
        return self.service.url

    def initial_token(self, scope: str = "clients:register") -> str:
        response = httpx.post(
            f"{self.url}/token", data={"grant_type": "client_credentials", "scope": scope}, auth=(self.operator_id, self.operator_secret)
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def register(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}/register", json=body, headers=headers)


def registration_service(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Iterator[RegistrationService]:
    port = free_port()
    settings = load_settings(
        {"TOKEN_SERVICE_DATA_DIR": str(tmp_path_factory.mktemp("token-service"))},
        issuer=f"http://127.0.0.1:{port}",
        port=port,
        allow_private_urls=True,
        upstreams=[{"name": "local", "kind": "password"}],
        resources=[{"identifier": API, "name": "Notes API", "scopes": ["notes:read", "notes:write"]}],
        **{"open_registration": True, "registration_rate_limit": "1000/minute", **overrides},
    )
    with running_token_service(settings) as service:
        operator_id, secret = service.add_client(
            grant_types=["client_credentials"], scope="clients:register notes:read", audience=settings.endpoint("/register")
        )
        assert secret is not None
        add_user(settings, "erin", PASSWORD, email="erin@example.com")
        yield RegistrationService(service, operator_id, secret)


@pytest.fixture(scope="module")
def registrar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistrationService]:
    yield from registration_service(tmp_path_factory)
