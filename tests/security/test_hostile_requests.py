"""Hostile requests against the token service: injection, open redirects, pollution, oversize, CSRF, framing.

Every answer is checked by `assert_not_subverted`: never a 5xx or a stack trace,
never a header injected through a parameter, never a Location outside the
service or the registered URIs, never a payload reflected unescaped, and every
HTML page forbids framing.
"""

from __future__ import annotations

import socket
import statistics
import time
from typing import Any
from urllib.parse import quote
from unittest import mock

import httpx
import pytest

from tests.security.requests import (
    INJECTION_IDS,
    INJECTIONS,
    SIGNED_OUT,
    Target,
    assert_not_subverted,
    consent_page,
    login_page,
)
from tests.support.browser import Browser, hidden_fields, pkce_pair
from tests.support.password_login import PASSWORD, REDIRECT_URI
from token_service.clients import authentication

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

injections = pytest.mark.parametrize("payload", INJECTIONS, ids=INJECTION_IDS)


def authorize_params(target: Target, **overrides: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": target.login.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid notes:read",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "prompt": "login",
        "response_mode": "query",
        "login_hint": "alice",
        "max_age": "60",
        "resource": "http://127.0.0.1:8001",
    }
    return {**params, **overrides}


# ---- injection in every parameter ----------------------------------------------------


@injections
def test_injection_in_any_authorize_parameter(target: Target, browser: Browser, payload: str) -> None:
    for name in authorize_params(target):
        response = browser.http.get(f"{target.url}/authorize", params=authorize_params(target, **{name: payload}))
        assert_not_subverted(target, response, payload)
        next_page = httpx.URL(target.url).join(response.headers.get("location", ""))
        if response.status_code in (302, 303) and str(next_page).startswith(target.url + "/"):
            assert_not_subverted(target, browser.http.get(next_page), payload)


@injections
def test_injection_in_any_token_revoke_or_introspect_parameter(target: Target, payload: str) -> None:
    auth = (target.confidential_id, target.confidential_secret)
    bodies = {
        "/token": {"grant_type": "client_credentials", "scope": "notes:read", "resource": "http://127.0.0.1:8001", "code": "c", "redirect_uri": REDIRECT_URI, "code_verifier": "v", "refresh_token": "r"},
        "/revoke": {"token": "t", "token_type_hint": "refresh_token"},
        "/introspect": {"token": "t", "token_type_hint": "access_token"},
    }
    for path, body in bodies.items():
        for name in [*body, "client_id", "client_secret"]:
            with_auth = name not in ("client_id", "client_secret")
            response = httpx.post(f"{target.url}{path}", data={**body, name: payload}, auth=auth if with_auth else None)
            assert_not_subverted(target, response, payload)
        response = httpx.post(f"{target.url}{path}", data=body, auth=(payload, payload))
        assert_not_subverted(target, response, payload)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    # Nothing was dropped or altered: the service still issues tokens to the real client.
    assert httpx.post(f"{target.url}/token", data={"grant_type": "client_credentials"}, auth=auth).status_code == 200


@injections
def test_injection_in_userinfo_credentials(target: Target, payload: str) -> None:
    for response in (
        httpx.get(f"{target.url}/userinfo", headers={"Authorization": f"Bearer {payload}"}) if payload.isprintable() else None,
        httpx.post(f"{target.url}/userinfo", data={"access_token": payload}),
        httpx.get(f"{target.url}/userinfo", params={"access_token": payload}),
    ):
        if response is not None:
            assert_not_subverted(target, response, payload)
            assert response.status_code in (400, 401)


@injections
def test_injection_in_any_login_form_field(target: Target, browser: Browser, payload: str) -> None:
    page = login_page(target, browser)
    fields = {**hidden_fields(page.text), "username": "alice", "password": "wrong password!"}
    for name in fields:
        response = browser.http.post(f"{target.url}/login/password", data={**fields, name: payload})
        assert_not_subverted(target, response, payload)
        if response.status_code == 303:
            # A failed login shows the form again with the username filled in: escaped.
            assert_not_subverted(target, browser.http.get(httpx.URL(target.url).join(response.headers["location"])), payload)
    assert_not_subverted(target, browser.http.get(f"{target.url}/login", params={"tx": payload}), payload)
    in_path = quote(payload, safe="")
    assert_not_subverted(target, browser.http.get(f"{target.url}/login/{in_path}", params={"tx": fields["tx"]}), payload)
    assert_not_subverted(target, browser.http.get(f"{target.url}/callback/{in_path}", params={"code": payload, "state": payload}), payload)


@injections
def test_injection_in_any_consent_field(target: Target, browser: Browser, payload: str) -> None:
    page = consent_page(target, browser)
    fields = {**hidden_fields(page.text), "decision": "deny"}
    for name in fields:
        assert_not_subverted(target, browser.http.post(f"{target.url}/consent", data={**fields, name: payload}), payload)


@injections
def test_injection_in_any_logout_parameter(target: Target, browser: Browser, payload: str) -> None:
    browser.login(target.url, target.login.client_id, REDIRECT_URI, "alice", PASSWORD, scope="openid")
    params = {"client_id": target.login.client_id, "post_logout_redirect_uri": SIGNED_OUT, "state": "s", "id_token_hint": "x.y.z", "revoke_refresh_tokens": "true"}
    for name in params:
        polluted = {**params, name: payload}
        assert_not_subverted(target, browser.http.get(f"{target.url}/logout", params=polluted), payload)
        assert_not_subverted(target, browser.http.post(f"{target.url}/logout", data=polluted), payload)


# ---- open redirects -----------------------------------------------------------------

REDIRECT_VARIANTS = [
    "//evil.example/callback",
    "http://127.0.0.1:9999@evil.example/callback",
    "http://evil.example/?http://127.0.0.1:9999/callback",
    "http://127.0.0.1:9999/callback/../../evil",
    "http://127.0.0.1:9999/callback%2F..%2Fevil",
    "http://127.0.0.1:9999/callback#@evil.example",
    "HTTP://127.0.0.1:9999/callback",
    "http://127.0.0.1:9999/callback ",
    "http://127.0.0.1:9999/callback\\@evil.example",
    "javascript:alert(1)//http://127.0.0.1:9999/callback",
    "data:text/html,<script>alert(1)</script>",
    "/callback",
]


@pytest.mark.parametrize("redirect_uri", REDIRECT_VARIANTS)
def test_redirect_uri_variants_never_redirect(target: Target, browser: Browser, redirect_uri: str) -> None:
    response = browser.http.get(f"{target.url}/authorize", params=authorize_params(target, redirect_uri=redirect_uri))

    assert response.status_code == 400 and "location" not in response.headers
    assert_not_subverted(target, response, redirect_uri)


@pytest.mark.parametrize("redirect_uri", [*REDIRECT_VARIANTS, SIGNED_OUT + "/x", SIGNED_OUT + "?next=https://evil.example", REDIRECT_URI])
def test_post_logout_redirect_variants_never_redirect(target: Target, browser: Browser, redirect_uri: str) -> None:
    # REDIRECT_URI is registered, but as a login redirect, not a post-logout one.
    response = browser.http.get(f"{target.url}/logout", params={"client_id": target.login.client_id, "post_logout_redirect_uri": redirect_uri})

    assert response.status_code == 400 and "location" not in response.headers
    assert_not_subverted(target, response, redirect_uri)


@pytest.mark.parametrize("name", ["next", "return_to", "redirect", "redirect_url", "url", "continue", "target"])
def test_next_like_parameters_are_ignored_everywhere(target: Target, browser: Browser, name: str) -> None:
    evil = "https://evil.example/"
    page = login_page(target, browser)
    tx = page.url.params["tx"]
    responses = [
        browser.http.get(f"{target.url}/authorize", params={**authorize_params(target), name: evil}),
        browser.http.get(f"{target.url}/login", params={"tx": tx, name: evil}),
        browser.http.get(f"{target.url}/authorize/continue", params={"tx": tx, name: evil}),
        browser.http.post(f"{target.url}/login/password", data={**hidden_fields(page.text), "username": "alice", "password": PASSWORD, name: evil}),
        browser.http.get(f"{target.url}/logout", params={name: evil}),
    ]
    for response in responses:
        assert_not_subverted(target, response)
        assert "evil.example" not in response.headers.get("location", "")


# ---- parameter pollution, size, content type ------------------------------------------


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge"])
def test_duplicate_authorize_parameter_is_refused(target: Target, browser: Browser, name: str) -> None:
    params = list(authorize_params(target).items()) + [(name, authorize_params(target)[name])]
    response = browser.http.get(f"{target.url}/authorize", params=params)

    # RFC 6749 §3.1: not even an error redirect, since which redirect_uri would it be?
    assert response.status_code == 400 and "location" not in response.headers
    assert "more than once" in response.text
    assert_not_subverted(target, response)


def test_duplicate_fields_in_browser_forms_are_refused(target: Target, browser: Browser) -> None:
    page = login_page(target, browser)
    fields = hidden_fields(page.text)
    login = browser.http.post(
        f"{target.url}/login/password",
        content=f"tx={fields['tx']}&csrf={fields['csrf']}&username=alice&username=bob&password=x".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    logout = browser.http.post(
        f"{target.url}/logout", content=f"post_logout_redirect_uri={SIGNED_OUT}&post_logout_redirect_uri=https://evil.example".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    for response in (login, logout):
        assert response.status_code == 400 and "more than once" in response.text
        assert_not_subverted(target, response)


@pytest.mark.parametrize("path", ["/token", "/login/password", "/consent", "/logout", "/userinfo"])
def test_body_over_a_megabyte_is_refused(target: Target, path: str) -> None:
    response = httpx.post(f"{target.url}{path}", content=b"a=" + b"x" * (1024 * 1024 + 10), headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert 400 <= response.status_code < 500
    assert_not_subverted(target, response)


def raw_status(url: str, head: bytes) -> int:
    """Send a request head over a bare socket and read the status, so a server that answers and
    then closes is still heard (a client still writing would only see the reset)."""
    parts = httpx.URL(url)
    with socket.create_connection((parts.host, parts.port or 80), timeout=10) as sock:
        sock.sendall(head)
        status_line = sock.recv(64).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    "extra_headers",
    [b"X-Big: " + b"x" * 200_000 + b"\r\n", b"".join(b"X-H%d: %s\r\n" % (i, b"x" * 100) for i in range(3000)), b"Cookie: ts_session=" + b"x" * 100_000 + b"\r\n"],
    ids=["one-huge-header", "many-headers", "huge-cookie"],
)
def test_oversized_headers_are_refused_and_the_service_lives_on(target: Target, extra_headers: bytes) -> None:
    head = b"GET /authorize HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + b"\r\n"

    assert 400 <= raw_status(target.url, head) < 500
    assert httpx.get(f"{target.url}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", b'{"username": "alice"}'), ("text/plain", b"username=alice"), ("multipart/form-data; boundary=x", b"--x--"), (None, b"username=alice")],
)
@pytest.mark.parametrize("path", ["/login/password", "/consent", "/logout"])
def test_browser_forms_accept_only_form_encoding(target: Target, path: str, content_type: str | None, body: bytes) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{target.url}{path}", content=body, headers=headers)

    assert response.status_code == 400 and "application/x-www-form-urlencoded" in response.text
    assert_not_subverted(target, response)


# ---- client authentication ----------------------------------------------------------


def test_public_client_presenting_a_secret_is_invalid_client(target: Target) -> None:
    for auth, data in (((target.login.client_id, "s" * 40), {}), (None, {"client_id": target.login.client_id, "client_secret": "s" * 40})):
        response = httpx.post(f"{target.url}/token", data={"grant_type": "refresh_token", "refresh_token": "r", **data}, auth=auth)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_invalid_client_does_the_same_work_whether_or_not_the_client_exists(target: Target) -> None:
    """Counted, not timed: both paths look the client up and hash the presented secret once."""
    calls: list[str | None] = []
    real_verify = authentication.verify_client_secret

    def counting_verify(secret: str, stored_hash: str | None) -> bool:
        calls.append(stored_hash)
        return real_verify(secret, stored_hash)

    durations: dict[str, list[float]] = {"known": [], "unknown": []}
    with mock.patch.object(authentication, "verify_client_secret", counting_verify):
        for round_ in range(40):
            for kind, client_id in (("known", target.confidential_id), ("unknown", f"nobody-{round_}")):
                calls.clear()
                started = time.perf_counter()
                response = httpx.post(f"{target.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, "w" * 43))
                durations[kind].append(time.perf_counter() - started)
                assert response.status_code == 401 and response.json() == {
                    "error": "invalid_client",
                    "error_description": "client authentication failed (unknown client or wrong secret)",
                }
                assert len(calls) == 1, (kind, calls)
                assert (calls[0] is None) == (kind == "unknown")
    # For the record only (-s shows it); wall-clock figures are never asserted.
    print({kind: f"median {statistics.median(values) * 1000:.2f} ms" for kind, values in durations.items()})


# ---- CSRF and clickjacking ------------------------------------------------------------


def test_consent_without_or_with_a_wrong_csrf_token_issues_nothing(target: Target, browser: Browser) -> None:
    page = consent_page(target, browser)
    fields = {**hidden_fields(page.text), "decision": "allow"}
    for csrf in (None, "", "forged", fields["csrf"][:-1]):
        data = {k: v for k, v in fields.items() if k != "csrf"} | ({"csrf": csrf} if csrf is not None else {})
        response = browser.http.post(f"{target.url}/consent", data=data)
        assert response.status_code == 403 and "location" not in response.headers
        assert_not_subverted(target, response)
    # The genuine form still works afterwards: the refusals did not consume the request.
    done = browser.http.post(f"{target.url}/consent", data=fields)
    assert done.status_code == 303 and "code=" in done.headers["location"]


def test_login_post_without_a_csrf_field_is_refused(target: Target, browser: Browser) -> None:
    page = login_page(target, browser)
    response = browser.http.post(f"{target.url}/login/password", data={"tx": page.url.params["tx"], "username": "alice", "password": PASSWORD})

    assert response.status_code == 403
    assert not any(c.name == "ts_session" for c in browser.http.cookies.jar)


def signed_in(target: Target, browser: Browser) -> dict[str, Any]:
    result = browser.login(target.url, target.login.client_id, REDIRECT_URI, "alice", PASSWORD, scope="openid")
    redeemed = httpx.post(
        f"{target.url}/token",
        data={"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "client_id": target.login.client_id, "code_verifier": result.verifier},
    )
    assert redeemed.status_code == 200, redeemed.text
    return dict(redeemed.json())


def still_signed_in(target: Target, browser: Browser) -> bool:
    again = browser.authorize(target.url, target.login.client_id, REDIRECT_URI, scope="openid", extra={"prompt": "none"})
    return isinstance(again, str) and "code=" in again


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_from_another_site_needs_confirmation(target: Target, browser: Browser, method: str) -> None:
    signed_in(target, browser)
    params = {"client_id": target.login.client_id, "post_logout_redirect_uri": SIGNED_OUT, "state": "s"}

    lured = browser.http.request(method, f"{target.url}/logout", params=params if method == "GET" else None, data=params if method == "POST" else None)

    assert lured.status_code == 200 and "Sign out?" in lured.text and "location" not in lured.headers
    assert_not_subverted(target, lured)
    assert still_signed_in(target, browser)


def test_logout_confirmation_with_a_wrong_csrf_token_keeps_the_session(target: Target, browser: Browser) -> None:
    signed_in(target, browser)
    page = browser.http.get(f"{target.url}/logout", params={"client_id": target.login.client_id, "post_logout_redirect_uri": SIGNED_OUT})
    fields = {**hidden_fields(page.text), "confirm": "yes"}

    # The last variant changes one character (to one it is not already).
    altered = fields["csrf"][:-1] + ("A" if fields["csrf"][-1] != "A" else "B")
    for csrf in ("", "forged", altered):
        assert browser.http.post(f"{target.url}/logout", data={**fields, "csrf": csrf}).status_code == 200
        assert still_signed_in(target, browser)
    confirmed = browser.http.post(f"{target.url}/logout", data=fields)

    assert confirmed.status_code == 303 and confirmed.headers["location"] == SIGNED_OUT
    assert not still_signed_in(target, browser)


def test_logout_with_an_id_token_hint_of_another_user_needs_confirmation(target: Target, browser: Browser) -> None:
    from tests.support.browser import add_user

    add_user(target.login.service.settings, "mallory", PASSWORD)
    other = Browser()
    try:
        mallory = other.login(target.url, target.login.client_id, REDIRECT_URI, "mallory", PASSWORD, scope="openid")
        hint = httpx.post(
            f"{target.url}/token",
            data={"grant_type": "authorization_code", "code": mallory.params["code"], "redirect_uri": REDIRECT_URI, "client_id": target.login.client_id, "code_verifier": mallory.verifier},
        ).json()["id_token"]
    finally:
        other.close()
    signed_in(target, browser)

    lured = browser.http.get(f"{target.url}/logout", params={"id_token_hint": hint})

    assert lured.status_code == 200 and "Sign out?" in lured.text
    assert still_signed_in(target, browser)


def test_every_html_page_forbids_framing(target: Target, browser: Browser) -> None:
    pages = {
        "login": login_page(target, browser),
        "error": browser.http.get(f"{target.url}/authorize", params={"client_id": "nobody"}),
        "expired sign-in": browser.http.get(f"{target.url}/login", params={"tx": "gone"}),
        "consent": consent_page(target, browser),
    }
    pages["logout confirmation"] = browser.http.get(f"{target.url}/logout")
    pages["signed out"] = browser.http.post(f"{target.url}/logout", data={**hidden_fields(pages["logout confirmation"].text), "confirm": "yes"})
    for name, response in pages.items():
        assert "text/html" in response.headers["content-type"], name
        assert response.headers["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], name
        assert "default-src 'none'" in response.headers["content-security-policy"], name
        assert response.headers["referrer-policy"] == "no-referrer", name
    assert "Signed out" in pages["signed out"].text
