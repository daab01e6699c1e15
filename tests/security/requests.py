"""A token service with one of each kind of client, and checks that a response did not give in."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from tests.support.browser import Browser
from tests.support.password_login import PASSWORD, REDIRECT_URI, LoginSetup

SIGNED_OUT = "http://127.0.0.1:9999/signed-out"
THIRD_PARTY_REDIRECT = "http://127.0.0.1:9998/callback"

INJECTIONS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE clients; --",
    "{{7*7}}${7*7}",
    "%00",
    "nul\x00byte",
    "\r\nSet-Cookie: injected=1",
]
INJECTION_IDS = ["script", "img-onerror", "sql", "template", "percent-00", "nul", "crlf"]


@dataclass
class Target:
    """The `setup` deployment plus a confidential client and a third-party client that needs consent."""

    login: LoginSetup
    confidential_id: str
    confidential_secret: str
    third_party_id: str

    @property
    def url(self) -> str:
        return self.login.url

    @property
    def registered(self) -> tuple[str, ...]:
        return (REDIRECT_URI, SIGNED_OUT, THIRD_PARTY_REDIRECT)


def add_clients(setup: LoginSetup) -> Target:
    confidential_id, secret = setup.service.add_client(grant_types=["client_credentials"], scope="notes:read", audience="http://127.0.0.1:8001")
    third_party_id, _ = setup.service.add_client(
        grant_types=["authorization_code"], redirect_uris=[THIRD_PARTY_REDIRECT], scope="openid notes:read", audience="http://127.0.0.1:8001", public=True
    )
    assert secret is not None
    return Target(setup, confidential_id, secret, third_party_id)


def assert_not_subverted(target: Target, response: httpx.Response, payload: str | None = None) -> None:
    """No 5xx, no stack trace, no header injection, no foreign Location, no unescaped reflection, framing forbidden."""
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    for name, value in response.headers.multi_items():
        assert "\r" not in value and "\n" not in value
        assert not (name == "set-cookie" and "injected" in value), value
    location = response.headers.get("location")
    if location is not None:
        absolute = urljoin(target.url + "/", location)
        assert absolute.startswith(target.url + "/") or absolute.split("?")[0] in target.registered, location
    if "text/html" in response.headers.get("content-type", ""):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        if payload is not None and any(c in payload for c in "<>\""):
            assert payload not in response.text


def login_page(target: Target, browser: Browser, client_id: str | None = None, redirect_uri: str = REDIRECT_URI) -> httpx.Response:
    page = browser.authorize(target.url, client_id or target.login.client_id, redirect_uri, scope="openid notes:read")
    assert isinstance(page, httpx.Response) and page.status_code == 200, page
    return page


def consent_page(target: Target, browser: Browser) -> httpx.Response:
    page = login_page(target, browser, target.third_party_id, THIRD_PARTY_REDIRECT)
    after = browser.submit_password(page, target.login.username, PASSWORD, THIRD_PARTY_REDIRECT)
    assert isinstance(after, httpx.Response) and 'action="/consent"' in after.text, after
    return after
