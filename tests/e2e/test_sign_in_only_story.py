"""User story: a relying party set up for login only (Apache mod_auth_openidc, Auth.js) is
registered without an audience and asks only for OpenID Connect scopes. Sign-in works out of
the box: its access token is for this service's UserInfo endpoint, which accepts it.

A real client library (Authlib's OAuth 2.0 client, client_secret_basic and PKCE) drives the
code flow; the browser signs in with the password connector and approves the consent page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from tests.support.browser import Browser, add_user
from tests.support.password_login import PASSWORD, REDIRECT_URI, password_settings
from tests.support.token_service import RunningTokenService, decode_segment, running_token_service

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def relying_party(make_settings: Any) -> Iterator[tuple[RunningTokenService, str, str]]:
    settings = password_settings(make_settings)
    with running_token_service(settings) as service:
        # As `token-service clients add --grant authorization_code --redirect-uri ... --scope "openid profile email"`: no --audience.
        client_id, secret = service.add_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], scope="openid profile email")
        assert secret is not None
        add_user(settings, "grace", PASSWORD, email="grace@example.com", name="Grace")
        yield service, client_id, secret


def test_a_sign_in_only_client_without_audience_signs_in_and_reads_userinfo(relying_party: tuple[RunningTokenService, str, str]) -> None:
    service, client_id, secret = relying_party
    oauth = OAuth2Client(client_id, secret, scope="openid profile email", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier, nonce = generate_token(64), generate_token(16)
    url, state = oauth.create_authorization_url(f"{service.url}/authorize", code_verifier=verifier, nonce=nonce)
    browser = Browser()
    try:
        login = browser.follow(browser.http.get(url), REDIRECT_URI)
        assert isinstance(login, httpx.Response) and login.status_code == 200, getattr(login, "text", login)
        consent = browser.submit_password(login, "grace", PASSWORD, REDIRECT_URI)
        assert isinstance(consent, httpx.Response) and "Allow access?" in consent.text
        # Only sign-in: no API is named on the consent page.
        assert "It will use" not in consent.text
        back = browser.consent(consent, "allow", REDIRECT_URI)
        assert isinstance(back, str)
    finally:
        browser.close()
    token = oauth.fetch_token(f"{service.url}/token", authorization_response=back, code_verifier=verifier, state=state)

    claims = decode_segment(token["access_token"], 1)
    assert claims["aud"] == f"{service.url}/userinfo"
    assert decode_segment(token["id_token"], 1)["nonce"] == nonce

    userinfo = httpx.get(f"{service.url}/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["email"] == "grace@example.com" and userinfo.json()["name"] == "Grace"
