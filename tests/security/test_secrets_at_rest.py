"""A thief with a copy of the database and of Redis gets no usable secret; responses carry no private key.

The flow is run for real (login, code, refresh, client secret), every plaintext
secret it produced is collected, and then every row of every table and every
Redis key and value under the deployment's prefix is searched for them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from litestar.testing import TestClient
from sqlalchemy import select

from tests.support.backends import REDIS_URL, delete_redis_prefix, redis_prefix, require_service
from tests.support.browser import Browser, add_user, hidden_fields, query_of
from tests.support.password_login import API, PASSWORD, REDIRECT_URI, password_settings
from tests.support.token_service import RunningTokenService, running_token_service
from token_service.app import create_app
from token_service.db.engine import create_engine
from token_service.db.models import Base

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


@pytest.fixture
def service(make_settings: Any) -> Iterator[RunningTokenService]:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    settings = password_settings(make_settings, redis_url=REDIS_URL, redis_prefix=prefix)
    try:
        with running_token_service(settings) as running:
            yield running
    finally:
        delete_redis_prefix(prefix)


def database_dump(service: RunningTokenService) -> str:
    async def run() -> str:
        engine = create_engine(service.settings)
        try:
            async with engine.connect() as connection:
                rows = [repr(tuple(row)) for table in Base.metadata.sorted_tables for row in await connection.execute(select(table))]
        finally:
            await engine.dispose()
        return "\n".join(rows)

    return asyncio.run(run())


def redis_dump(prefix: str) -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        parts: list[str] = []
        for key in client.scan_iter(match=f"{prefix}*"):
            kind = client.type(key).decode()
            value: Any = {
                "string": client.get,
                "hash": client.hgetall,
                "set": client.smembers,
                "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                "list": lambda k: client.lrange(k, 0, -1),
            }.get(kind, lambda k: b"")(key)
            parts.append(f"{key!r} {value!r}")
        assert parts, "the Redis store holds nothing under the prefix: the search below would prove nothing"
        return "\n".join(parts)
    finally:
        client.close()


def assert_absent(secrets: dict[str, str], *dumps: str) -> None:
    for name, value in secrets.items():
        assert len(value) >= 16, name  # a short value could match by chance and prove nothing
        for dump in dumps:
            assert value not in dump, f"the plaintext {name} is stored"


def test_codes_refresh_tokens_sessions_and_client_secrets_are_stored_only_as_hashes(service: RunningTokenService) -> None:
    settings = service.settings
    client_id, _ = service.add_client(
        grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT_URI], scope="openid offline_access", audience=API, public=True, first_party=True
    )
    machine_id, machine_secret = service.add_client(grant_types=["client_credentials"], scope="notes:read", audience=API)
    assert machine_secret is not None
    add_user(settings, "alice", PASSWORD)
    browser = Browser()
    try:
        page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid offline_access")
        assert isinstance(page, httpx.Response)
        redirect = browser.submit_password(page, "alice", PASSWORD, REDIRECT_URI)
        assert isinstance(redirect, str)
        code = query_of(redirect)["code"]
        session_id = next(c.value for c in browser.http.cookies.jar if c.name == "ts_session")
        # While the code is live: it must already be unreadable in the store.
        assert_absent({"authorization code": code, "session id": session_id}, redis_dump(settings.redis_prefix), database_dump(service))

        tokens = httpx.post(
            f"{service.url}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": client_id, "code_verifier": browser.last_verifier},
        ).json()
        refreshed = httpx.post(f"{service.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}).json()
    finally:
        browser.close()
    assert httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(machine_id, machine_secret)).status_code == 200

    secrets = {
        "authorization code": code,
        "session id": session_id,
        "first refresh token": tokens["refresh_token"],
        "rotated refresh token": refreshed["refresh_token"],
        "client secret": machine_secret,
        "user password": PASSWORD,
    }
    if settings.key_encryption_key is not None:
        secrets["key-encryption key"] = settings.key_encryption_key.get_secret_value()
    assert_absent(secrets, redis_dump(settings.redis_prefix), database_dump(service))


def private_members_in(document: Any) -> set[str]:
    """Private JWK members anywhere in a JSON document (inside any object that has a kty)."""
    found: set[str] = set()
    if isinstance(document, dict):
        if "kty" in document:
            found |= PRIVATE_JWK_MEMBERS & document.keys()
        for value in document.values():
            found |= private_members_in(value)
    elif isinstance(document, list):
        for value in document:
            found |= private_members_in(value)
    return found


def test_no_response_carries_a_private_key_member(service: RunningTokenService) -> None:
    machine_id, secret = service.add_client(grant_types=["client_credentials"], scope="notes:read", audience=API)
    auth = (machine_id, secret or "")
    token = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=auth)
    jwks = httpx.get(f"{service.url}/jwks.json").json()
    responses = [
        httpx.get(f"{service.url}/.well-known/openid-configuration"),
        httpx.get(f"{service.url}/jwks.json"),
        httpx.get(f"{service.url}/schema/openapi.json"),
        token,
        httpx.post(f"{service.url}/introspect", data={"token": token.json()["access_token"]}, auth=auth),
        httpx.post(f"{service.url}/revoke", data={"token": token.json()["access_token"]}, auth=auth),
    ]

    assert jwks["keys"] and all(key["kty"] == "RSA" and set(key) >= {"n", "e", "kid"} for key in jwks["keys"])
    for response in responses:
        assert response.status_code == 200, response.text
        assert "PRIVATE KEY" not in response.text
        body = response.json() if response.content else None
        assert private_members_in(body) == set(), response.url


# ---- security headers ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_hsts_only_when_the_issuer_is_https(make_settings: Any) -> None:
    for issuer, expected in (("https://login.example.com", "max-age=31536000; includeSubDomains"), ("http://127.0.0.1:8000", None)):
        with TestClient(create_app(make_settings(issuer=issuer)), base_url=issuer) as client:
            for path in ("/healthz", "/jwks.json", "/authorize"):
                response = client.get(path)
                assert response.headers.get("strict-transport-security") == expected, (issuer, path)
                assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_token_bearing_responses_are_not_stored_and_code_redirects_leak_no_referrer(make_settings: Any) -> None:
    settings = password_settings(make_settings)
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(
            grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT_URI], scope="openid offline_access", audience=API, public=True, first_party=True
        )
        add_user(settings, "alice", PASSWORD)
        browser = Browser()
        try:
            page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid offline_access")
            assert isinstance(page, httpx.Response)
            code_redirect = browser.http.post(f"{service.url}/login/password", data={**hidden_fields(page.text), "username": "alice", "password": PASSWORD})
            while "code=" not in code_redirect.headers.get("location", ""):
                code_redirect = browser.http.get(httpx.URL(service.url).join(code_redirect.headers["location"]))
        finally:
            browser.close()
        code = query_of(code_redirect.headers["location"])["code"]
        tokens = httpx.post(
            f"{service.url}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": client_id, "code_verifier": browser.last_verifier},
        )
        refreshed = httpx.post(f"{service.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"], "client_id": client_id})

    # RFC 9700 §4.2.4: the page the code lands on must not leak it onward in a Referer.
    assert code_redirect.headers["referrer-policy"] == "no-referrer"
    assert code_redirect.headers["cache-control"] == "no-store"
    for response in (tokens, refreshed):
        assert response.status_code == 200
        # RFC 6749 §5.1: a response containing tokens MUST carry Cache-Control: no-store.
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert json.loads(refreshed.text)["refresh_token"] != tokens.json()["refresh_token"]
