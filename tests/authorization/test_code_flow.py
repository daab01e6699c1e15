"""The authorization code flow with PKCE, ID tokens, userinfo, refresh rotation and logout — over real HTTP."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.browser import Browser, pkce_pair
from tests.support.password_login import API, PASSWORD, REDIRECT_URI, LoginSetup
from tests.support.token_service import decode_segment
from token_service.tokens.id_token import at_hash


def redeem(setup: LoginSetup, code: str, verifier: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": setup.client_id, "code_verifier": verifier, **extra}
    return httpx.post(f"{setup.url}/token", data=data)


def refresh(setup: LoginSetup, token: str, **extra: str) -> httpx.Response:
    return httpx.post(f"{setup.url}/token", data={"grant_type": "refresh_token", "refresh_token": token, "client_id": setup.client_id, **extra})


def sign_in(setup: LoginSetup, browser: Browser, scope: str = "openid profile email offline_access notes:read") -> dict[str, str]:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope=scope)
    response = redeem(setup, result.params["code"], result.verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    body["nonce"] = result.nonce
    return body


def test_password_login_yields_tokens_for_the_user_the_service_owns(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid profile email offline_access notes:read")
    assert result.params["state"] == result.state
    assert result.params["iss"] == setup.url  # RFC 9207
    tokens = redeem(setup, result.params["code"], result.verifier).json()
    keys = KeySet.import_key_set(httpx.get(f"{setup.url}/jwks.json").json())

    access = jwt.decode(tokens["access_token"], keys, algorithms=["RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["sub"] == setup.user_id
    assert API in access.claims["aud"]
    assert access.claims["client_id"] == setup.client_id

    id_token = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    claims = id_token.claims
    assert claims["iss"] == setup.url and claims["aud"] == setup.client_id and claims["sub"] == setup.user_id
    assert claims["nonce"] == result.nonce
    assert claims["at_hash"] == at_hash(tokens["access_token"])
    assert claims["email"] == "alice@example.com" and claims["name"] == "Alice"
    assert abs(claims["auth_time"] - time.time()) < 30
    assert tokens["refresh_token"]

    info = httpx.get(f"{setup.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert info.json() == {"sub": setup.user_id, "name": "Alice", "preferred_username": "alice", "email": "alice@example.com", "email_verified": False}


def test_userinfo_without_token_is_401_with_bearer_challenge(setup: LoginSetup) -> None:
    response = httpx.get(f"{setup.url}/userinfo")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_userinfo_rejections_go_through_the_error_registry_with_the_userinfo_realm(setup: LoginSetup) -> None:
    missing = httpx.get(f"{setup.url}/userinfo")
    assert missing.headers["www-authenticate"].startswith('Bearer realm="userinfo", error="invalid_token"')
    assert missing.json()["error"] == "invalid_token" and missing.headers["cache-control"] == "no-store"

    joined = httpx.get(f"{setup.url}/userinfo", headers={"Authorization": "Bearer abc, Bearer def"})
    assert joined.status_code == 400 and joined.json()["error"] == "invalid_request"
    assert "contains a comma" in joined.json()["error_description"]
    assert 'realm="userinfo", error="invalid_request"' in joined.headers["www-authenticate"]


def test_replayed_code_fails_and_revokes_what_it_issued(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid offline_access notes:read")
    first = redeem(setup, result.params["code"], result.verifier)
    assert first.status_code == 200
    replay = redeem(setup, result.params["code"], result.verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    revoked = refresh(setup, first.json()["refresh_token"])
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    info = httpx.get(f"{setup.url}/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert info.status_code == 401


def test_parallel_redemptions_give_exactly_one_success(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid notes:read")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: redeem(setup, result.params["code"], result.verifier).status_code, range(8)))
    assert sorted(statuses) == [200] + [400] * 7


def test_wrong_pkce_verifier_fails_and_consumes_the_code(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid")
    wrong, _ = pkce_pair()
    failed = redeem(setup, result.params["code"], wrong)
    assert failed.status_code == 400 and failed.json()["error"] == "invalid_grant"
    assert redeem(setup, result.params["code"], result.verifier).status_code == 400


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": None, "code_challenge_method": None}, "code_challenge is required"),
    ],
)
def test_pkce_downgrade_is_refused(setup: LoginSetup, browser: Browser, extra: dict[str, str | None], fragment: str) -> None:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": setup.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    for key, value in extra.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    response = browser.http.get(f"{setup.url}/authorize", params=params)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert "error=invalid_request" in location and "state=s1" in location
    assert fragment.replace(" ", "+") in location


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://evil.example.com/callback", REDIRECT_URI + "/extra", REDIRECT_URI + "?x=1", "http://127.0.0.1:9999/CALLBACK"],
)
def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(setup: LoginSetup, browser: Browser, redirect_uri: str) -> None:
    _, challenge = pkce_pair()
    response = browser.http.get(
        f"{setup.url}/authorize",
        params={"response_type": "code", "client_id": setup.client_id, "redirect_uri": redirect_uri, "code_challenge": challenge, "code_challenge_method": "S256"},
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "text/html" in response.headers["content-type"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_unknown_client_gets_an_error_page(setup: LoginSetup, browser: Browser) -> None:
    response = browser.http.get(f"{setup.url}/authorize", params={"client_id": "nobody", "redirect_uri": REDIRECT_URI, "response_type": "code"})
    assert response.status_code == 400 and "location" not in response.headers


def test_redirect_uri_at_token_endpoint_must_match(setup: LoginSetup, browser: Browser) -> None:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid")
    response = redeem(setup, result.params["code"], result.verifier, redirect_uri="http://127.0.0.1:9999/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_revokes_the_family(setup: LoginSetup, browser: Browser) -> None:
    tokens = sign_in(setup, browser)
    first = refresh(setup, tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]
    second = refresh(setup, rotated)
    assert second.status_code == 200
    # The original token, two generations back, is reuse: the whole family dies.
    reuse = refresh(setup, tokens["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert refresh(setup, second.json()["refresh_token"]).status_code == 400


def test_predecessor_within_grace_window_returns_the_same_pair(setup: LoginSetup, browser: Browser) -> None:
    tokens = sign_in(setup, browser)
    first = refresh(setup, tokens["refresh_token"]).json()
    again = refresh(setup, tokens["refresh_token"])
    assert again.status_code == 200
    assert again.json() == first
    # The family is intact: the successor still works.
    assert refresh(setup, first["refresh_token"]).status_code == 200


def test_concurrent_refreshes_yield_one_continuation(setup: LoginSetup, browser: Browser) -> None:
    tokens = sign_in(setup, browser)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: refresh(setup, tokens["refresh_token"]), range(6)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["refresh_token"] for r in responses}) == 1


def test_refresh_can_narrow_but_not_widen_scope(setup: LoginSetup, browser: Browser) -> None:
    tokens = sign_in(setup, browser)
    widened = refresh(setup, tokens["refresh_token"], scope="openid notes:write")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"
    narrowed = refresh(setup, tokens["refresh_token"], scope="notes:read")
    assert narrowed.status_code == 200
    assert decode_segment(narrowed.json()["access_token"], 1)["scope"] == "notes:read"
    # The refresh token keeps the original scope (RFC 6749 §6).
    wider_again = refresh(setup, narrowed.json()["refresh_token"], scope="openid notes:read")
    assert wider_again.status_code == 200


def test_refresh_token_of_another_client_is_rejected(setup: LoginSetup, browser: Browser) -> None:
    tokens = sign_in(setup, browser)
    other_id, _ = setup.service.add_client(grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT_URI], scope="openid", public=True)
    response = httpx.post(f"{setup.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": other_id})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_wrong_password_and_unknown_user_get_the_same_answer(setup: LoginSetup, browser: Browser) -> None:
    answers = []
    for username, password in (("alice", "wrong password!"), ("nobody", "wrong password!")):
        page = browser.authorize(setup.url, setup.client_id, REDIRECT_URI)
        assert isinstance(page, httpx.Response)
        after = browser.submit_password(page, username, password, REDIRECT_URI)
        assert isinstance(after, httpx.Response) and after.status_code == 200
        answers.append(after.text.replace(page.url.params["tx"], "TX").split('name="csrf" value="')[0])
    assert answers[0] == answers[1].replace('value="nobody"', 'value="alice"')
    assert "Wrong username or password" in answers[0]


def test_login_form_without_the_csrf_token_is_refused(setup: LoginSetup, browser: Browser) -> None:
    page = browser.authorize(setup.url, setup.client_id, REDIRECT_URI)
    assert isinstance(page, httpx.Response)
    tx = page.url.params["tx"]
    response = browser.http.post(f"{setup.url}/login/password", data={"tx": tx, "csrf": "forged", "username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_login_completed_in_another_browser_cannot_finish_this_request(setup: LoginSetup, browser: Browser) -> None:
    # Login CSRF: the attacker starts a request, then lures the victim's browser to finish it.
    page = browser.authorize(setup.url, setup.client_id, REDIRECT_URI)
    assert isinstance(page, httpx.Response)
    other = Browser()
    try:
        stolen = other.http.get(str(page.url))
        assert stolen.status_code == 400 and "another browser" in stolen.text
    finally:
        other.close()


def test_session_id_changes_at_login(setup: LoginSetup, browser: Browser) -> None:
    browser.http.cookies.set("ts_session", "planted-by-attacker", domain="127.0.0.1")
    browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid")
    values = [c.value for c in browser.http.cookies.jar if c.name == "ts_session"]
    assert values and "planted-by-attacker" not in values


def test_existing_session_skips_the_login_page_and_prompt_login_forces_it(setup: LoginSetup, browser: Browser) -> None:
    browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope="openid")
    again = browser.authorize(setup.url, setup.client_id, REDIRECT_URI, scope="openid")
    assert isinstance(again, str) and "code=" in again
    forced = browser.authorize(setup.url, setup.client_id, REDIRECT_URI, scope="openid", extra={"prompt": "login"})
    assert isinstance(forced, httpx.Response) and "Sign in" in forced.text


def test_prompt_none_without_session_returns_login_required(setup: LoginSetup, browser: Browser) -> None:
    result = browser.authorize(setup.url, setup.client_id, REDIRECT_URI, scope="openid", extra={"prompt": "none"})
    assert isinstance(result, str) and "error=login_required" in result


def test_logout_redirects_only_to_registered_uris(setup: LoginSetup, browser: Browser) -> None:
    tokens = sign_in(setup, browser, scope="openid")
    evil = browser.http.get(f"{setup.url}/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"})
    assert evil.status_code == 400 and "location" not in evil.headers
    ok = browser.http.get(
        f"{setup.url}/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9999/signed-out", "state": "bye"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "http://127.0.0.1:9999/signed-out?state=bye"
    # The session is gone: the next authorization needs a login again.
    after = browser.authorize(setup.url, setup.client_id, REDIRECT_URI, scope="openid", extra={"prompt": "none"})
    assert isinstance(after, str) and "error=login_required" in after


def test_cors_admits_only_registered_origins(setup: LoginSetup) -> None:
    allowed = httpx.options(f"{setup.url}/token", headers={"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
    denied = httpx.options(f"{setup.url}/token", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in denied.headers
    # Litestar serves `/token/` as the token endpoint: CORS answers for it the same way.
    slash = httpx.options(f"{setup.url}/token/", headers={"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"})
    assert slash.status_code == 204 and slash.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"


@pytest.mark.parametrize(("parameter", "error"), [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_refused_with_the_oidc_error(setup: LoginSetup, browser: Browser, parameter: str, error: str) -> None:
    _, challenge = pkce_pair()
    response = browser.http.get(
        f"{setup.url}/authorize",
        params={
            "response_type": "code",
            "client_id": setup.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s2",
            parameter: "eyJhbGciOiJub25lIn0.e30.",
        },
    )
    assert response.status_code == 302
    assert f"error={error}" in response.headers["location"] and "state=s2" in response.headers["location"]
