"""Browser sessions, remembered consent, password-attempt limits, UserInfo by POST, logout revocation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.browser import Browser, add_user, hidden_fields, pkce_pair
from tests.support.password_login import API, PASSWORD, REDIRECT_URI, LoginSetup, password_settings
from tests.support.token_service import RunningTokenService, running_token_service

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def third_party(make_settings: Any) -> Iterator[tuple[RunningTokenService, str]]:
    settings = password_settings(make_settings, login_rate_limit_username="3 per 5 minutes", login_rate_limit_ip="100/minute")
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            scope="openid profile notes:read notes:write",
            audience=API,
            public=True,
            first_party=False,
        )
        add_user(settings, "bob", PASSWORD)
        yield service, client_id


def test_consent_is_asked_once_per_user_client_and_scope(third_party: tuple[RunningTokenService, str]) -> None:
    service, client_id = third_party
    browser = Browser()
    try:
        page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read")
        assert isinstance(page, httpx.Response)
        consent = browser.submit_password(page, "bob", PASSWORD, REDIRECT_URI)
        assert isinstance(consent, httpx.Response) and "Allow access?" in consent.text and "notes:read" in consent.text
        assert isinstance(browser.consent(consent, "allow", REDIRECT_URI), str)
        # Same scopes again: remembered, straight to the client.
        again = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read")
        assert isinstance(again, str) and "code=" in again
        # A wider request asks again, naming the new scope.
        wider = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read notes:write")
        assert isinstance(wider, httpx.Response) and "notes:write" in wider.text
        denied = browser.consent(wider, "deny", REDIRECT_URI)
        assert isinstance(denied, str) and "error=access_denied" in denied
    finally:
        browser.close()


def test_password_attempts_per_username_are_limited(third_party: tuple[RunningTokenService, str]) -> None:
    service, client_id = third_party
    browser = Browser()
    try:
        outcomes = []
        for attempt in range(4):
            page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid")
            assert isinstance(page, httpx.Response)
            response = browser.http.post(f"{service.url}/login/password", data={**hidden_fields(page.text), "username": "bob", "password": f"wrong-{attempt}"})
            outcomes.append(response)
        assert all(r.status_code == 303 for r in outcomes)
        assert "retry-after" not in outcomes[2].headers
        assert int(outcomes[3].headers["retry-after"]) > 0
        limited_page = browser.http.get(f"{service.url}{outcomes[3].headers['location']}")
        assert "Too many attempts" in limited_page.text
        # Even the right password is refused while the limit holds.
        page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid")
        assert isinstance(page, httpx.Response)
        blocked = browser.submit_password(page, "bob", PASSWORD, REDIRECT_URI)
        assert isinstance(blocked, httpx.Response) and "Too many attempts" in blocked.text
    finally:
        browser.close()


def test_userinfo_accepts_post(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid profile")
    tokens = httpx.post(
        f"{setup.url}/token",
        data={"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "client_id": setup.client_id, "code_verifier": result.verifier},
    ).json()
    response = httpx.post(f"{setup.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200 and response.json()["sub"] == setup.user_id


def test_logout_can_revoke_the_sessions_refresh_tokens(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid offline_access")
    tokens = httpx.post(
        f"{setup.url}/token",
        data={"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "client_id": setup.client_id, "code_verifier": result.verifier},
    ).json()
    response = browser.http.get(f"{setup.url}/logout", params={"id_token_hint": tokens["id_token"], "revoke_refresh_tokens": "true"})
    assert response.status_code == 200 and "signed out" in response.text
    refreshed = httpx.post(f"{setup.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": setup.client_id})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_an_access_token_is_not_an_id_token_hint_for_logout(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid offline_access")
    tokens = httpx.post(
        f"{setup.url}/token",
        data={"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "client_id": setup.client_id, "code_verifier": result.verifier},
    ).json()
    # Every resource server holds such a token: signed by us, naming the user, but not an ID token.
    response = browser.http.get(f"{setup.url}/logout", params={"id_token_hint": tokens["access_token"], "revoke_refresh_tokens": "true"})
    assert response.status_code == 200 and "Sign out?" in response.text
    refreshed = httpx.post(f"{setup.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": setup.client_id})
    assert refreshed.status_code == 200, "refresh tokens were revoked without the confirmation page"
    again = browser.authorize(setup.url, setup.client_id, REDIRECT_URI, scope="openid")
    assert isinstance(again, str) and "code=" in again, "the session ended without the confirmation page"


def test_https_issuer_uses_host_prefixed_secure_cookies(make_settings: Any) -> None:
    settings = password_settings(make_settings)
    settings = settings.model_copy(update={"issuer": f"https://127.0.0.1:{settings.port}"})
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(
            grant_types=["authorization_code"], redirect_uris=["https://app.example.com/cb"], scope="openid", audience=API, public=True, first_party=True
        )
        add_user(settings, "carol", PASSWORD)
        _, challenge = pkce_pair()
        with httpx.Client() as http:
            start = http.get(
                f"{service.url}/authorize",
                params={"response_type": "code", "client_id": client_id, "redirect_uri": "https://app.example.com/cb", "code_challenge": challenge, "code_challenge_method": "S256", "scope": "openid"},
            )
            binding_cookie = start.headers["set-cookie"]
            assert binding_cookie.startswith("__Host-ts_login=")
            assert "Secure" in binding_cookie and "HttpOnly" in binding_cookie and "Path=/" in binding_cookie
            assert "Domain" not in binding_cookie
            assert "samesite=lax" in binding_cookie.lower()
            binding = re.match(r"__Host-ts_login=([^;]+)", binding_cookie)
            assert binding is not None
            # The Secure cookie is not sent back over this test's plain HTTP: send it by hand.
            cookie = {"Cookie": f"__Host-ts_login={binding.group(1)}"}
            page = http.get(f"{service.url}{start.headers['location']}", headers=cookie)
            login = http.post(f"{service.url}/login/password", data={**hidden_fields(page.text), "username": "carol", "password": PASSWORD}, headers=cookie)
            session_cookie = login.headers["set-cookie"]
            assert session_cookie.startswith("__Host-ts_session=")
            assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "Path=/" in session_cookie
            assert login.headers.get("strict-transport-security", "").startswith("max-age=")


def test_upstream_login_starts_are_limited_per_ip(make_settings: Any) -> None:
    settings = make_settings_with_github(make_settings)
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], scope="openid", audience=API, public=True, first_party=True)
        browser = Browser()
        try:
            statuses = []
            for _ in range(3):
                _, challenge = pkce_pair()
                start = browser.http.get(
                    f"{service.url}/authorize",
                    params={"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "code_challenge": challenge, "code_challenge_method": "S256"},
                )
                # A single non-password upstream: /authorize goes straight to it.
                assert start.status_code == 303 and start.headers["location"].startswith("/login/gh?tx=")
                statuses.append(browser.http.get(f"{service.url}{start.headers['location']}"))
            assert [r.status_code for r in statuses] == [303, 303, 429]
            assert statuses[0].headers["location"].startswith("https://github.com/login/oauth/authorize?")
            assert int(statuses[2].headers["retry-after"]) > 0 and "Too many sign-in attempts" in statuses[2].text
        finally:
            browser.close()


def make_settings_with_github(make_settings: Any) -> Any:
    from tests.support.token_service import issuer_settings

    upstream = {"name": "gh", "kind": "github", "client_id": "gh-client", "client_secret": "gh-secret-" + "x" * 30}
    return issuer_settings(make_settings, upstreams=[upstream], login_rate_limit_ip="2/minute")
