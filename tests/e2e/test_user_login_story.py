"""User story: a person signs in through an upstream OpenID Connect provider, the token
service creates the user it owns, and a real client library completes the code flow.

The upstream is a second token-service instance (password connector), so the whole
chain runs over real HTTP with no mocks: browser → token service → upstream → back →
code → tokens (Authlib's OAuth 2.0 client, PKCE) → resource API.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.browser import Browser, add_user, hidden_fields
from tests.support.live_server import free_port, live_server, wait_ready
from tests.support.token_service import running_token_service

REDIRECT_URI = "http://127.0.0.1:9999/callback"
PASSWORD = "upstream password 123"


@pytest.fixture
def chain(make_settings: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    # Different host names keep the two services' cookies apart in one browser, as two domains would.
    upstream_port, service_port, api_port = free_port(), free_port(), free_port()
    upstream_url = f"http://localhost:{upstream_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    upstream_settings = make_settings(issuer=upstream_url, port=upstream_port, upstreams=[{"name": "local", "kind": "password"}])
    with running_token_service(upstream_settings) as upstream:
        upstream_client_id, upstream_secret = upstream.add_client(
            grant_types=["authorization_code"],
            redirect_uris=[f"{service_url}/callback/corp"],
            scope="openid profile email",
            audience=upstream_url,
            first_party=True,
        )
        add_user(upstream_settings, "carol", PASSWORD, email="carol@corp.example", name="Carol Corp")
        service_settings = make_settings(
            issuer=service_url,
            port=service_port,
            upstreams=[
                {
                    "name": "corp",
                    "kind": "oidc",
                    "display_name": "Corp SSO",
                    "issuer": upstream_url,
                    "client_id": upstream_client_id,
                    "client_secret": upstream_secret,
                    "algorithms": ["RS256"],
                }
            ],
        )
        with running_token_service(service_settings) as service:
            api_url = f"http://127.0.0.1:{api_port}"
            client_id, client_secret = service.add_client(
                grant_types=["authorization_code", "refresh_token"],
                redirect_uris=[REDIRECT_URI],
                scope="openid profile email offline_access notes:read notes:write",
                audience=api_url,
                first_party=False,
            )
            api_settings = ResourceApiSettings(issuer=service_url, audience=api_url, database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db")
            with live_server(create_resource_app(api_settings), port=api_port) as api:
                wait_ready(api.url)
                yield {
                    "service": service,
                    "upstream": upstream,
                    "api": api.url,
                    "client_id": client_id,
                    "client_secret": client_secret,
                }


def follow(browser: Browser, response: httpx.Response) -> httpx.Response | str:
    return browser.follow(response, REDIRECT_URI, limit=15)


def sign_in_through_the_upstream(chain: dict[str, Any], oauth: OAuth2Client, *, expect_consent: bool) -> tuple[dict[str, Any], str]:
    """One sign-in in a fresh browser (no session anywhere): our /authorize, the upstream's
    password form, back to us, then the code for tokens. Returns the tokens and the nonce."""
    service = chain["service"]
    verifier = generate_token(64)
    nonce = secrets.token_urlsafe(16)
    url, state = oauth.create_authorization_url(f"{service.url}/authorize", code_verifier=verifier, nonce=nonce)

    browser = Browser()
    try:
        # One upstream and no password form: /authorize goes straight to the upstream's login page.
        upstream_login = follow(browser, browser.http.get(url))
        assert isinstance(upstream_login, httpx.Response) and upstream_login.url.host == "localhost"
        assert "Sign in" in upstream_login.text
        form = {**hidden_fields(upstream_login.text), "username": "carol", "password": PASSWORD}
        back = follow(browser, browser.http.post(str(upstream_login.url.join("/login/password")), data=form))
        if expect_consent:
            # Back at our service: a third-party client asks for consent.
            assert isinstance(back, httpx.Response) and "Allow access?" in back.text
            assert back.url.host == "127.0.0.1"
            back = browser.consent(back, "allow", REDIRECT_URI)
        # Without consent to ask (it was given before), straight back to the client.
        assert isinstance(back, str), back
    finally:
        browser.close()

    token = oauth.fetch_token(f"{service.url}/token", authorization_response=back, code_verifier=verifier, state=state)
    return dict(token), nonce


def test_upstream_login_creates_the_user_and_a_client_library_completes_the_flow(chain: dict[str, Any]) -> None:
    service = chain["service"]
    oauth = OAuth2Client(
        chain["client_id"],
        chain["client_secret"],
        scope="openid profile email offline_access notes:read notes:write",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    token, nonce = sign_in_through_the_upstream(chain, oauth, expect_consent=True)
    keys = KeySet.import_key_set(httpx.get(f"{service.url}/jwks.json").json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert id_token["iss"] == service.url and id_token["aud"] == chain["client_id"] and id_token["nonce"] == nonce
    assert id_token["email"] == "carol@corp.example" and id_token["name"] == "Carol Corp"
    # The user is ours: `sub` is our own opaque id, not the upstream's.
    upstream_keys = KeySet.import_key_set(httpx.get(f"{chain['upstream'].url}/jwks.json").json())
    assert not {k.kid for k in upstream_keys.keys} & {k.kid for k in keys.keys}

    headers = {"Authorization": f"Bearer {token['access_token']}"}
    created = httpx.post(f"{chain['api']}/notes", json={"text": "from corp"}, headers=headers)
    assert created.status_code == 201, created.text
    me = httpx.get(f"{chain['api']}/me", headers=headers).json()
    assert me["sub"] == id_token["sub"]

    # Refreshing keeps the user.
    refreshed = oauth.refresh_token(f"{service.url}/token", refresh_token=token["refresh_token"])
    assert jwt.decode(refreshed["access_token"], keys, algorithms=["RS256"]).claims["sub"] == id_token["sub"]

    # Signing in again through the upstream, from a new browser, finds the same user
    # (identity keyed by upstream + upstream subject) and the notes it wrote.
    again, again_nonce = sign_in_through_the_upstream(chain, oauth, expect_consent=False)
    id_token_again = jwt.decode(again["id_token"], keys, algorithms=["RS256"]).claims
    assert id_token_again["nonce"] == again_nonce
    assert id_token_again["sub"] == id_token["sub"]
    notes = httpx.get(f"{chain['api']}/notes", headers={"Authorization": f"Bearer {again['access_token']}"})
    assert notes.status_code == 200 and [n["text"] for n in notes.json()] == ["from corp"], notes.text
