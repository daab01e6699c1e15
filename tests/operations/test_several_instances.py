"""Two token-service instances behind one load balancer: one PostgreSQL database, one Redis."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.backends import delete_redis_prefix, redis_prefix, require_service
from tests.support.browser import Browser, add_user, hidden_fields
from tests.support.key_rotation import planned_rotation
from tests.support.live_server import free_port
from tests.support.password_login import PASSWORD, REDIRECT_URI
from tests.support.token_service import RunningTokenService, running_token_service
from token_service.keys.sealing import new_kek_text
from token_service.settings import TokenServiceSettings

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@dataclass
class Pair:
    a: RunningTokenService
    b: RunningTokenService
    client_id: str
    issuer: str


@pytest.fixture
def pair(make_settings: Any, postgres_databases: Any) -> Iterator[Pair]:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    database_url = postgres_databases.create()
    kek = new_kek_text()
    # Both instances answer for one public issuer, as they would behind a load balancer.
    issuer = f"http://127.0.0.1:{free_port()}"
    common = {
        "issuer": issuer,
        "database_url": database_url,
        "key_encryption_key": kek,
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_prefix": prefix,
        "upstreams": [{"name": "local", "kind": "password"}],
    }
    settings_a: TokenServiceSettings = make_settings(port=free_port(), **common)
    settings_b: TokenServiceSettings = make_settings(port=free_port(), **common)
    try:
        with running_token_service(settings_a) as a, running_token_service(settings_b) as b:
            client_id, _ = a.add_client(
                grant_types=["authorization_code", "refresh_token"],
                redirect_uris=[REDIRECT_URI],
                scope="openid offline_access notes:read",
                audience="http://127.0.0.1:8001",
                public=True,
                first_party=True,
            )
            add_user(settings_a, "alice", PASSWORD)
            yield Pair(a, b, client_id, issuer)
    finally:
        delete_redis_prefix(prefix)


def test_both_instances_serve_byte_identical_jwks(pair: Pair) -> None:
    jwks_a = httpx.get(f"{pair.a.url}/jwks.json")
    jwks_b = httpx.get(f"{pair.b.url}/jwks.json")
    assert jwks_a.content == jwks_b.content
    assert jwks_a.headers["etag"] == jwks_b.headers["etag"]


def test_token_from_a_verifies_with_b_jwks(pair: Pair) -> None:
    client_id, secret = pair.a.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
    token = httpx.post(f"{pair.a.url}/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}).json()
    keys = KeySet.import_key_set(httpx.get(f"{pair.b.url}/jwks.json").json())
    claims = jwt.decode(token["access_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == pair.issuer


def on(instance: RunningTokenService, url: str) -> str:
    """The same path and query on another instance (the load balancer's choice)."""
    parts = urlsplit(url)
    return f"{instance.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def test_login_started_on_a_completes_on_b(pair: Pair) -> None:
    browser = Browser()
    try:
        page = browser.authorize(pair.a.url, pair.client_id, REDIRECT_URI, scope="openid offline_access")
        assert isinstance(page, httpx.Response) and page.status_code == 200
        # The cookie was set by A; the form is posted to B, which finds the transaction in Redis.
        response = browser.http.post(f"{pair.b.url}/login/password", data={**hidden_fields(page.text), "username": "alice", "password": PASSWORD})
        assert response.status_code == 303
        continued = browser.http.get(on(pair.a, response.headers["location"]))
        assert continued.status_code == 303
        callback = continued.headers["location"]
        assert callback.startswith(REDIRECT_URI)
        code = dict(p.split("=", 1) for p in urlsplit(callback).query.split("&"))["code"]
        tokens = httpx.post(
            f"{pair.b.url}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": pair.client_id, "code_verifier": browser.last_verifier},
        )
        assert tokens.status_code == 200, tokens.text
        assert tokens.json()["refresh_token"]
    finally:
        browser.close()


def test_same_refresh_token_at_a_and_b_yields_one_continuation(pair: Pair) -> None:
    browser = Browser()
    try:
        result = browser.login(pair.a.url, pair.client_id, REDIRECT_URI, "alice", PASSWORD, scope="openid offline_access")
    finally:
        browser.close()
    tokens = httpx.post(
        f"{pair.a.url}/token",
        data={"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "client_id": pair.client_id, "code_verifier": result.verifier},
    ).json()
    for _ in range(3):
        refresh_token = tokens["refresh_token"]
        targets = [pair.a.url, pair.b.url] * 4
        with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
            responses = list(
                pool.map(
                    lambda url: httpx.post(f"{url}/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": pair.client_id}),
                    targets,
                )
            )
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
        successors = {r.json()["refresh_token"] for r in responses}
        assert len(successors) == 1
        tokens = responses[0].json()


def test_key_rotated_through_a_is_served_by_b_within_the_poll_interval(pair: Pair) -> None:
    from token_service.runtime import KEY_POLL_SECONDS

    before = {k["kid"] for k in httpx.get(f"{pair.b.url}/jwks.json").json()["keys"]}
    planned_rotation(pair.a.settings)
    # The documented delay: each instance re-reads the keys every KEY_POLL_SECONDS.
    deadline = time.monotonic() + KEY_POLL_SECONDS + 3
    while True:
        served_a = httpx.get(f"{pair.a.url}/jwks.json")
        served_b = httpx.get(f"{pair.b.url}/jwks.json")
        kids_b = {k["kid"] for k in served_b.json()["keys"]}
        if len(kids_b - before) == 1 and served_a.content == served_b.content:
            break
        assert time.monotonic() < deadline, "instance B did not serve the rotated key within the poll interval"
        time.sleep(0.2)
    assert served_a.headers["etag"] == served_b.headers["etag"]
