"""An attacker guessing passwords cannot step around the per-IP and per-username limits:
not with a forged X-Forwarded-For, not by spelling the username differently."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.password_login import API, PASSWORD, REDIRECT_URI, password_settings
from tests.support import serve_process
from tests.support.browser import add_user, hidden_fields, pkce_pair
from tests.support.serve_process import ServeProcess, running_serve
from tests.support.token_service import running_token_service
from token_service.http.client_address import TrustedProxies

ATTACKER = "203.0.113.50"


def random_address() -> str:
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


def password_attempt(url: str, client_id: str, username: str, password: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """One sign-in as a browser makes it: /authorize, the login page, the POSTed form."""
    _, challenge = pkce_pair()
    with httpx.Client(headers=headers) as http:
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "code_challenge": challenge, "code_challenge_method": "S256", "scope": "openid"}
        start = http.get(f"{url}/authorize", params=params)
        assert start.status_code == 303, start.text
        page = http.get(f"{url}{start.headers['location']}")
        return http.post(f"{url}/login/password", data={**hidden_fields(page.text), "username": username, "password": password})


def limited(response: httpx.Response) -> bool:
    assert response.status_code == 303, response.text
    return "retry-after" in response.headers


def signed_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/authorize/continue")


LIMITS = {"TOKEN_SERVICE_LOGIN_RATE_LIMIT_IP": "3/minute", "TOKEN_SERVICE_LOGIN_RATE_LIMIT_USERNAME": "100/minute"}


@pytest.fixture
def serve_without_trusted_proxy(tmp_path: Path) -> Iterator[ServeProcess]:
    # FORWARDED_ALLOW_IPS=* is what docker-compose.yml used to ship: uvicorn then took the
    # left-most X-Forwarded-For entry, which the client writes itself.
    with running_serve(tmp_path, {**LIMITS, "FORWARDED_ALLOW_IPS": "*"}) as server:
        yield server


@pytest.fixture
def serve_behind_trusted_proxy(tmp_path: Path) -> Iterator[ServeProcess]:
    # The test client plays the proxy: it connects from 127.0.0.1.
    with running_serve(tmp_path, {**LIMITS, "TOKEN_SERVICE_TRUSTED_PROXIES": "127.0.0.1"}) as server:
        yield server


def test_forged_forwarded_for_does_not_escape_the_ip_limit(serve_without_trusted_proxy: ServeProcess) -> None:
    url = serve_without_trusted_proxy.url
    outcomes = [
        password_attempt(url, serve_process.CLIENT_ID, "demo", f"wrong-{n}", {"X-Forwarded-For": f"{random_address()}, {ATTACKER}"})
        for n in range(5)
    ]
    assert [limited(r) for r in outcomes] == [False, False, False, True, True]
    # With no trusted proxy the header is ignored altogether, whatever it says.
    right = password_attempt(url, serve_process.CLIENT_ID, "demo", PASSWORD, {"X-Forwarded-For": random_address()})
    assert limited(right) and not signed_in(right)


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(serve_behind_trusted_proxy: ServeProcess) -> None:
    url = serve_behind_trusted_proxy.url
    # The attacker writes a fresh address each time; our proxy appends the one it saw.
    outcomes = [
        password_attempt(url, serve_process.CLIENT_ID, "demo", f"wrong-{n}", {"X-Forwarded-For": f"{random_address()}, {ATTACKER}"})
        for n in range(4)
    ]
    assert [limited(r) for r in outcomes] == [False, False, False, True]
    # Another client behind the same proxy is a different address with its own budget.
    other = password_attempt(url, serve_process.CLIENT_ID, "demo", PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
    assert signed_in(other)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_username_variants_share_one_limit(make_settings: Any) -> None:
    settings = password_settings(make_settings, login_rate_limit_username="4 per 5 minutes", login_rate_limit_ip="100/minute")
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], scope="openid", audience=API, public=True, first_party=True)
        add_user(settings, "demo", PASSWORD)
        variants = [" demo", "DEMO   ", "ｄｅｍｏ", "demo\u00a0"]
        outcomes = [password_attempt(service.url, client_id, name, "wrong password") for name in variants]
        assert not any(limited(r) for r in outcomes)
        # Four wrong passwords at one account, however spelt: the fifth try is refused,
        # even with the right password under yet another spelling.
        fifth = password_attempt(service.url, client_id, "ｄｅｍｏ ", PASSWORD)
        assert limited(fifth) and not signed_in(fifth)


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("10.0.0.5", ["1.2.3.4, 203.0.113.50"], "203.0.113.50"),  # right-most untrusted hop
        ("10.0.0.5", ["203.0.113.50, 10.0.0.9"], "203.0.113.50"),  # through two of our proxies
        ("10.0.0.5", ["1.2.3.4", "203.0.113.50"], "203.0.113.50"),  # two header lines, in order
        ("10.0.0.5", ["not-an-ip, 10.0.0.9"], "10.0.0.9"),  # garbage behind our proxies: the last we can vouch for
        ("10.0.0.5", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("10.0.0.5", ["203.0.113.50:5555"], "203.0.113.50"),
        ("192.0.2.1", ["1.2.3.4"], "192.0.2.1"),  # the peer is no proxy of ours: header ignored
        ("::ffff:10.0.0.5", ["203.0.113.50"], "203.0.113.50"),  # IPv4-mapped peer address
    ],
)
def test_client_address_is_the_right_most_untrusted_hop(peer: str, header: list[str], client: str) -> None:
    assert TrustedProxies.parse("10.0.0.0/24").client_of(peer, header) == client


def test_no_trusted_proxy_means_the_header_is_ignored() -> None:
    assert TrustedProxies.parse("").client_of("192.0.2.1", ["1.2.3.4"]) == "192.0.2.1"


@pytest.mark.parametrize("text", ["*", "10.0.0.0/33", "proxy.internal"])
def test_a_trust_setting_that_trusts_anyone_or_nothing_valid_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        TrustedProxies.parse(text)


def test_trusting_every_address_stops_start_up() -> None:
    from token_service.settings import ConfigurationError, load_settings

    with pytest.raises(ConfigurationError, match="TOKEN_SERVICE_TRUSTED_PROXIES.*escape the per-IP limits"):
        load_settings({"TOKEN_SERVICE_TRUSTED_PROXIES": "*"})
