"""Anonymous `/authorize` floods: pending sign-ins are bounded in size, rate and memory,
and never push a signed-in user out."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.support.password_login import API, PASSWORD, REDIRECT_URI, password_settings
from tests.support.backends import REDIS_URL, delete_redis_prefix, redis_prefix, require_service
from tests.support.browser import Browser, add_user, pkce_pair
from tests.support.token_service import RunningTokenService, running_token_service
from token_service.login.request_bounds import MAX_ECHOED_BYTES
from token_service.login.transactions import TRANSACTION_TTL

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

FLOOD = 300


def authorize_params(client_id: str, **extra: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "code_challenge": challenge, "code_challenge_method": "S256", "scope": "openid"}
    return {**params, **extra}


def anonymous_start(http: httpx.Client, url: str, client_id: str, address: str, **extra: str) -> httpx.Response:
    return http.get(f"{url}/authorize", params=authorize_params(client_id, **extra), headers={"X-Forwarded-For": address})


def public_client(service: RunningTokenService) -> str:
    client_id, _ = service.add_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], scope="openid", audience=API, public=True, first_party=True)
    return client_id


@pytest.fixture
def small_store(make_settings: Any) -> Iterator[tuple[RunningTokenService, str]]:
    # 1 MiB: a quarter for pending sign-ins, ~130 of them with a maximal state. The flood
    # comes through a "proxy" (this test, on 127.0.0.1) from many addresses, so the per-IP
    # start limit is not what saves the session: the separate budgets are.
    settings = password_settings(make_settings, memory_store_mb=1, trusted_proxies="127.0.0.1")
    with running_token_service(settings) as service:
        client_id = public_client(service)
        add_user(settings, "alice", PASSWORD)
        yield service, client_id


def test_a_signed_in_session_survives_a_flood_of_anonymous_sign_ins(small_store: tuple[RunningTokenService, str]) -> None:
    service, client_id = small_store
    browser = Browser()
    try:
        browser.login(service.url, client_id, REDIRECT_URI, "alice", PASSWORD, scope="openid")
        with httpx.Client() as first:
            earliest = anonymous_start(first, service.url, client_id, "198.18.0.1")
            assert earliest.status_code == 303
            state = "s" * MAX_ECHOED_BYTES["state"]
            with httpx.Client() as flood:
                for number in range(FLOOD):
                    address = f"198.18.{1 + number // 250}.{number % 250}"
                    assert anonymous_start(flood, service.url, client_id, address, state=state).status_code == 303
            # The flood filled the sign-in budget: the oldest pending sign-in made room.
            expired = first.get(f"{service.url}{earliest.headers['location']}")
            assert "Sign-in expired" in expired.text
        # The user signed in before the flood is still signed in: no login page, a code.
        again = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid", extra={"prompt": "none"})
        assert isinstance(again, str) and "code=" in again, again
    finally:
        browser.close()


def test_sign_in_starts_are_limited_per_ip(make_settings: Any) -> None:
    settings = password_settings(make_settings, login_start_rate_limit_ip="3/minute")
    with running_token_service(settings) as service, httpx.Client() as http:
        client_id = public_client(service)
        statuses = [http.get(f"{service.url}/authorize", params=authorize_params(client_id)) for _ in range(4)]
        assert [r.status_code for r in statuses] == [303, 303, 303, 429]
        assert int(statuses[3].headers["retry-after"]) > 0
        assert "Too many sign-ins were started from your network" in statuses[3].text


@pytest.mark.parametrize("name", ["state", "nonce"])
def test_an_oversized_echoed_value_is_refused_with_a_page(make_settings: Any, name: str) -> None:
    settings = password_settings(make_settings)
    with running_token_service(settings) as service, httpx.Client() as http:
        client_id = public_client(service)
        # 2048 characters passed the old per-parameter bound, yet are 8 KB of UTF-8 and
        # were 24 KB once JSON-escaped in the stored sign-in.
        response = http.get(f"{service.url}/authorize", params=authorize_params(client_id, **{name: "\U0001f600" * 2048}))
        assert response.status_code == 400
        assert "location" not in response.headers
        assert f"The {name} parameter is longer than {MAX_ECHOED_BYTES[name]} bytes" in response.text


def test_a_pending_sign_in_on_redis_is_small_and_short_lived(make_settings: Any) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    settings = password_settings(make_settings, redis_url=REDIS_URL, redis_prefix=prefix)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with running_token_service(settings) as service, httpx.Client() as http:
            client_id = public_client(service)
            # The largest values the bounds let through, in the costliest characters.
            largest = {"state": "\U0001f600" * (MAX_ECHOED_BYTES["state"] // 4), "nonce": "\U0001f600" * (MAX_ECHOED_BYTES["nonce"] // 4)}
            assert http.get(f"{service.url}/authorize", params=authorize_params(client_id, **largest)).status_code == 303
            (key,) = list(client.scan_iter(match=f"{prefix}tx:*"))
            assert int(client.strlen(key)) < 3 * 1024
            assert 0 < int(client.pttl(key)) <= TRANSACTION_TTL * 1000 <= 600_000
    finally:
        client.close()
        delete_redis_prefix(prefix)


def test_state_at_the_bound_still_round_trips(make_settings: Any) -> None:
    settings = password_settings(make_settings)
    with running_token_service(settings) as service:
        client_id = public_client(service)
        add_user(settings, "alice", PASSWORD)
        state = secrets.token_urlsafe(MAX_ECHOED_BYTES["state"])[: MAX_ECHOED_BYTES["state"]]
        browser = Browser()
        try:
            result = browser.login(service.url, client_id, REDIRECT_URI, "alice", PASSWORD, scope="openid", extra={"state": state})
            assert result.params["state"] == state
        finally:
            browser.close()
