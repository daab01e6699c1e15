"""Degraded mode: with PostgreSQL or Redis out of reach, discovery and JWKS keep working,
token/authorize/login answer 503 temporarily_unavailable, /readyz fails, /healthz stays up,
and everything recovers without a restart once the backend is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.backends import PG_HOST, PG_PORT, PostgresDatabases, delete_redis_prefix, redis_prefix, require_service
from tests.status.conftest import status_of
from tests.support.tcp_proxy import tcp_proxy
from tests.support.token_service import issuer_settings, running_token_service
from token_service.keys.sealing import new_kek_text

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def assert_degraded(url: str, client: tuple[str, str]) -> None:
    assert httpx.get(f"{url}/healthz").status_code == 200
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"]
    assert httpx.get(f"{url}/.well-known/openid-configuration").status_code == 200
    jwks = httpx.get(f"{url}/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"]
    token = httpx.post(f"{url}/token", data={"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]})
    assert token.status_code == 503
    assert token.json()["error"] == "temporarily_unavailable"
    assert int(token.headers["retry-after"]) > 0
    authorize = httpx.get(f"{url}/authorize", params={"client_id": client[0]})
    assert authorize.status_code == 503 and authorize.headers["retry-after"]


def assert_recovered(url: str, client: tuple[str, str]) -> None:
    eventually(lambda: httpx.get(f"{url}/readyz").status_code == 200)
    token = httpx.post(f"{url}/token", data={"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]})
    assert token.status_code == 200, token.text


def test_database_outage_degrades_and_recovers(make_settings: Any, postgres_databases: PostgresDatabases) -> None:
    database = postgres_databases.create()
    name = database.rsplit("/", 1)[1]
    with tcp_proxy(PG_HOST, PG_PORT) as proxy:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}"
        settings = issuer_settings(make_settings, database_url=url, key_encryption_key=new_kek_text())
        with running_token_service(settings) as service:
            client = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
            assert_recovered(service.url, client)  # type: ignore[arg-type]
            issued = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]})
            status_list_uri = status_of(issued.json()["access_token"])[0]
            served = httpx.get(status_list_uri)
            proxy.cut()
            eventually(lambda: httpx.get(f"{service.url}/readyz").status_code == 503)
            assert_degraded(service.url, client)  # type: ignore[arg-type]
            # Status lists are served from memory, like the JWKS: APIs keep checking tokens.
            during = httpx.get(status_list_uri)
            assert during.status_code == 200 and during.text == served.text
            assert status_list_uri in httpx.get(f"{service.url}/statuslists").json()["status_lists"]
            proxy.restore()
            assert_recovered(service.url, client)  # type: ignore[arg-type]


def test_redis_outage_degrades_and_recovers(make_settings: Any) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    try:
        with tcp_proxy("127.0.0.1", 6379) as proxy:
            settings = issuer_settings(make_settings, redis_url=f"redis://127.0.0.1:{proxy.port}/0", redis_prefix=prefix)
            with running_token_service(settings) as service:
                client = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
                assert_recovered(service.url, client)  # type: ignore[arg-type]
                proxy.cut()
                eventually(lambda: httpx.get(f"{service.url}/readyz").status_code == 503)
                assert_degraded(service.url, client)  # type: ignore[arg-type]
                proxy.restore()
                assert_recovered(service.url, client)  # type: ignore[arg-type]
    finally:
        delete_redis_prefix(prefix)




def test_database_only_endpoints_keep_working_while_redis_is_away(make_settings: Any) -> None:
    """/introspect, /revoke and /userinfo declare that they need the database alone
    (route_opt backends): a Redis outage refuses /token but not them."""
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    try:
        with tcp_proxy("127.0.0.1", 6379) as proxy:
            settings = issuer_settings(make_settings, redis_url=f"redis://127.0.0.1:{proxy.port}/0", redis_prefix=prefix)
            with running_token_service(settings) as service:
                client_id, secret = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
                auth = (client_id, secret or "")
                token = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=auth).json()["access_token"]
                proxy.cut()
                eventually(lambda: httpx.get(f"{service.url}/readyz").status_code == 503)
                assert httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=auth).status_code == 503

                introspected = httpx.post(f"{service.url}/introspect", data={"token": token}, auth=auth)
                assert introspected.status_code == 200 and introspected.json()["active"] is True
                assert httpx.post(f"{service.url}/revoke", data={"token": token}, auth=auth).status_code == 200
                after = httpx.post(f"{service.url}/introspect", data={"token": token}, auth=auth)
                assert after.json() == {"active": False}
                # A machine token has no `openid`: userinfo refuses it on its scope, not on Redis.
                userinfo = httpx.get(f"{service.url}/userinfo", headers={"Authorization": f"Bearer {token}"})
                assert userinfo.status_code in (401, 403) and "Bearer" in userinfo.headers["www-authenticate"]
    finally:
        delete_redis_prefix(prefix)
