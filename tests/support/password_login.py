"""A token service with the password upstream, a first-party public client and one user:
the set-up of the browser-login suites (authorization, revocation, security, observability).
Import the fixtures (`setup`, `browser`) into a conftest to use them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.browser import Browser, add_user
from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service

__all__ = ["API", "PASSWORD", "REDIRECT_URI", "LoginSetup", "browser", "password_settings", "setup"]

REDIRECT_URI = "http://127.0.0.1:9999/callback"
API = "http://127.0.0.1:8001"
PASSWORD = "correct horse battery staple"


@dataclass
class LoginSetup:
    service: RunningTokenService
    client_id: str
    secret: str | None
    username: str
    user_id: str

    @property
    def url(self) -> str:
        return self.service.url


def password_settings(make_settings: Any, **overrides: Any) -> Any:
    return issuer_settings(make_settings, upstreams=[{"name": "local", "kind": "password"}], **overrides)


@pytest.fixture
def setup(make_settings: Any) -> Iterator[LoginSetup]:
    settings = password_settings(make_settings)
    with running_token_service(settings) as service:
        client_id, secret = service.add_client(
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=["http://127.0.0.1:9999/signed-out"],
            scope="openid profile email offline_access notes:read notes:write",
            audience=API,
            public=True,
            first_party=True,
        )
        user_id = add_user(settings, "alice", PASSWORD, email="alice@example.com", name="Alice")
        yield LoginSetup(service, client_id, secret, "alice", user_id)


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()
