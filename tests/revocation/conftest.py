"""A token service with a browser app (public), a web app (confidential) and a resource server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.browser import Browser, add_user
from tests.support.password_login import API, PASSWORD, REDIRECT_URI, password_settings
from tests.support.token_service import RunningTokenService, running_token_service
from token_service.runtime import open_runtime
from token_service.tokens.signer import TokenSigner
from token_service.settings import TokenServiceSettings
from token_service.tokens.access import ACCESS_TOKEN_TYP, access_token_claims, new_jti

LOGIN_SCOPE = "openid profile email offline_access notes:read notes:write"

Auth = tuple[str, str]


@dataclass
class Deployment:
    service: RunningTokenService
    user_id: str
    spa: str  # public browser client: revokes by client_id alone
    webapp: Auth  # confidential client with refresh tokens
    resource_server: Auth  # confidential client that only introspects

    @property
    def url(self) -> str:
        return self.service.url


def register_clients(service: RunningTokenService) -> Deployment:
    login_client: dict[str, Any] = {
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [REDIRECT_URI],
        "scope": LOGIN_SCOPE,
        "audience": API,
        "first_party": True,
    }
    spa, _ = service.add_client(public=True, **login_client)
    webapp_id, webapp_secret = service.add_client(**login_client)
    rs_id, rs_secret = service.add_client(grant_types=["client_credentials"], scope="notes:read", audience=API)
    assert webapp_secret is not None and rs_secret is not None
    user_id = add_user(service.settings, "alice", PASSWORD, email="alice@example.com", name="Alice")
    return Deployment(service, user_id, spa, (webapp_id, webapp_secret), (rs_id, rs_secret))


@pytest.fixture
def deployment(make_settings: Any) -> Iterator[Deployment]:
    with running_token_service(password_settings(make_settings)) as service:
        yield register_clients(service)


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def sign_in(url: str, browser: Browser, client_id: str, auth: Auth | None = None) -> dict[str, str]:
    """Alice signs in at `client_id`; returns its token response (access, ID and refresh token)."""
    result = browser.login(url, client_id, REDIRECT_URI, "alice", PASSWORD, scope=LOGIN_SCOPE)
    data = {"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "code_verifier": result.verifier}
    if auth is None:
        data["client_id"] = client_id
    response = httpx.post(f"{url}/token", data=data, auth=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def refresh(url: str, token: str, client_id: str, auth: Auth | None = None) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    if auth is None:
        data["client_id"] = client_id
    return httpx.post(f"{url}/token", data=data, auth=auth)


def revoke(url: str, token: str, *, auth: Auth | None = None, client_id: str | None = None, **extra: str) -> httpx.Response:
    data = {"token": token, **extra}
    if client_id is not None:
        data["client_id"] = client_id
    return httpx.post(f"{url}/revoke", data=data, auth=auth)


def introspect(url: str, token: str, auth: Auth, **extra: str) -> httpx.Response:
    return httpx.post(f"{url}/introspect", data={"token": token, **extra}, auth=auth)


def userinfo(url: str, access_token: str) -> httpx.Response:
    return httpx.get(f"{url}/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def machine_token(url: str, auth: Auth) -> str:
    response = httpx.post(f"{url}/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def access_token_signed_by_service(settings: TokenServiceSettings, client_id: str, user_id: str, *, expires_in: int) -> str:
    """An access token signed with the service's real active key, expiring `expires_in` s from now
    (negative: already expired), minted directly so no test waits for a token to age."""

    async def run() -> str:
        runtime = await open_runtime(settings)
        try:
            claims = access_token_claims(
                issuer=settings.issuer,
                subject=user_id,
                client_id=client_id,
                audience=API,
                scopes=["notes:read"],
                now=int(time.time()) + expires_in - settings.access_token_ttl,
                ttl=settings.access_token_ttl,
                jti=new_jti(),
            )
            token, _ = TokenSigner(runtime.current_keys.current).sign(claims, ACCESS_TOKEN_TYP)
            return token
        finally:
            await runtime.close()

    return asyncio.run(run())


def eventually(check: Callable[[], bool], seconds: float = 6.0) -> bool:
    """Polls `check()` until true; for state other instances see through a short cache."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
