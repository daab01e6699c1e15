"""A client assertion is single use across every instance: the jti lives in the shared Redis store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.backends import delete_redis_prefix, redis_prefix, require_service
from tests.support.client_keys import new_key, public_jwks, sign_assertion
from tests.support.live_server import free_port
from tests.support.token_service import running_token_service
from token_service.clients.assertion import JWT_BEARER
from token_service.keys.sealing import new_kek_text

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def test_an_assertion_used_on_one_instance_is_refused_on_the_other(make_settings: Any, postgres_databases: Any) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    issuer = f"http://127.0.0.1:{free_port()}"
    common = {
        "issuer": issuer,
        "database_url": postgres_databases.create(),
        "key_encryption_key": new_kek_text(),
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_prefix": prefix,
    }
    try:
        with running_token_service(make_settings(port=free_port(), **common)) as a, running_token_service(make_settings(port=free_port(), **common)) as b:
            key = new_key("ES256")
            client_id, _ = a.add_client(token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key), scope="notes:read", audience="http://127.0.0.1:8001")
            assertion = sign_assertion(key, client_id, issuer)
            data = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
            assert httpx.post(f"{a.url}/token", data=data).status_code == 200
            replayed = httpx.post(f"{b.url}/token", data=data)
            assert replayed.status_code == 401
            assert "was already used" in replayed.json()["error_description"]
    finally:
        delete_redis_prefix(prefix)
