"""Token requests per client are limited; the count is shared by every instance through Redis."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.backends import delete_redis_prefix, redis_prefix, require_service
from tests.support.live_server import free_port
from tests.support.token_service import issuer_settings, running_token_service


def ask(url: str, client: tuple[str, str | None]) -> httpx.Response:
    return httpx.post(f"{url}/token", data={"grant_type": "client_credentials"}, auth=(client[0], client[1] or ""))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_token_requests_over_the_limit_get_429_with_retry_after(make_settings: Any) -> None:
    with running_token_service(issuer_settings(make_settings, token_rate_limit="3/minute")) as service:
        client = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
        other = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
        assert [ask(service.url, client).status_code for _ in range(3)] == [200, 200, 200]
        limited = ask(service.url, client)
        assert limited.status_code == 429
        assert limited.json()["error"] == "slow_down" and "retry in" in limited.json()["error_description"]
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert limited.headers["cache-control"] == "no-store"
        # The limit is per client: another client is not affected.
        assert ask(service.url, other).status_code == 200


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_limit_holds_across_instances(make_settings: Any, postgres_databases: Any) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    common = {
        "issuer": f"http://127.0.0.1:{free_port()}",
        "database_url": postgres_databases.create(),
        "key_encryption_key": __import__("token_service.keys.sealing", fromlist=["new_kek_text"]).new_kek_text(),
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_prefix": prefix,
        "token_rate_limit": "3/minute",
    }
    try:
        with running_token_service(make_settings(port=free_port(), **common)) as a, running_token_service(make_settings(port=free_port(), **common)) as b:
            client = a.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
            statuses = [ask(a.url, client).status_code, ask(b.url, client).status_code, ask(a.url, client).status_code, ask(b.url, client).status_code]
            assert statuses == [200, 200, 200, 429]
    finally:
        delete_redis_prefix(prefix)
