"""Revocation reaches every API within the status list's ttl: two token-service instances on one
PostgreSQL and Redis, behind one issuer URL, and two resource API processes verifying locally."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.support import wait_until_ready
from tests.support.backends import delete_redis_prefix, redis_prefix, require_service
from tests.support.browser import Browser, add_user
from tests.support.cli_environment import use_settings_environment
from tests.support.live_server import free_port
from tests.support.password_login import PASSWORD, REDIRECT_URI
from tests.support.tcp_proxy import TcpProxy
from tests.support.token_service import running_token_service
from token_service.cli import main
from token_service.keys.sealing import new_kek_text

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

API = "http://127.0.0.1:8001"
TTL = 3


@contextmanager
def resource_api_process(issuer: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="status-api-") as data:
        env = {
            **os.environ,
            "RESOURCE_API_ISSUER": issuer,
            "RESOURCE_API_AUDIENCE": API,  # two replicas of one API
            "RESOURCE_API_PORT": str(port),
            "RESOURCE_API_DATABASE_URL": f"sqlite+aiosqlite:///{data}/notes.db",
        }
        command = [str(Path(sys.executable).parent / "resource-api"), "serve"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_ready(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(10)


def user_token(issuer_url: str, client_id: str, username: str) -> str:
    browser = Browser()
    try:
        result = browser.login(issuer_url, client_id, REDIRECT_URI, username, PASSWORD, scope="openid notes:read")
    finally:
        browser.close()
    data = {"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "client_id": client_id, "code_verifier": result.verifier}
    response = httpx.post(f"{issuer_url}/token", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def me(api: str, token: str) -> httpx.Response:
    return httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {token}"})


def test_revoking_a_users_tokens_reaches_both_apis_within_the_ttl(
    make_settings: Any, postgres_databases: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    port_a, port_b = free_port(), free_port()
    # The load balancer: the issuer's URL, in front of instance B (status lists included).
    balancer = TcpProxy("127.0.0.1", port_b)
    issuer = f"http://127.0.0.1:{balancer.port}"
    common = {
        "issuer": issuer,
        "database_url": postgres_databases.create(),
        "key_encryption_key": new_kek_text(),
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_prefix": prefix,
        "upstreams": [{"name": "local", "kind": "password"}],
        "status_list_ttl": TTL,
    }
    settings_a, settings_b = make_settings(port=port_a, **common), make_settings(port=port_b, **common)
    with ExitStack() as stack:
        stack.callback(delete_redis_prefix, prefix)
        a = stack.enter_context(running_token_service(settings_a))
        b = stack.enter_context(running_token_service(settings_b))
        balancer.start()
        stack.callback(balancer.stop)
        client_id, _ = a.add_client(
            grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], scope="openid notes:read", audience=API, public=True, first_party=True
        )
        add_user(settings_a, "alice", PASSWORD)
        add_user(settings_a, "bob", PASSWORD)
        apis = [stack.enter_context(resource_api_process(issuer)) for _ in range(2)]

        alice = [user_token(a.url, client_id, "alice"), user_token(b.url, client_id, "alice")]
        bob = [user_token(a.url, client_id, "bob"), user_token(b.url, client_id, "bob")]
        for api in apis:
            for token in alice + bob:
                assert me(api, token).status_code == 200

        use_settings_environment(monkeypatch, settings_a)
        with pytest.raises(SystemExit) as exit_info:
            main(["users", "revoke-tokens", "alice"])
        assert exit_info.value.code == 0
        revoked_at = time.monotonic()
        assert "revoked 2 access tokens" in capsys.readouterr().out

        refused: dict[tuple[str, str], float] = {}
        while len(refused) < len(apis) * len(alice) and time.monotonic() - revoked_at < TTL + 5:
            for api in apis:
                for token in alice:
                    if (api, token) not in refused:
                        response = me(api, token)
                        if response.status_code == 401:
                            assert "revoked (status list" in response.headers["www-authenticate"]
                            refused[(api, token)] = time.monotonic() - revoked_at
            time.sleep(0.05)
        assert len(refused) == 4, f"refused so far: {refused}"
        assert max(refused.values()) <= TTL + 1, refused
        for api in apis:
            for token in bob:
                assert me(api, token).status_code == 200
