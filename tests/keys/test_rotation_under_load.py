"""Two planned rotations and a retirement under steady load: zero failed requests, and every
token's kid was in a JWKS published before the token was issued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.rotation_under_load import ROTATION_SETTINGS, run_scenario
from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.backends import delete_redis_prefix, redis_prefix, require_service
from tests.support.key_rotation import planned_rotation
from tests.support.live_server import free_port, live_server, wait_ready
from tests.support.token_service import issuer_settings, running_token_service

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def test_planned_rotations_under_load_fail_no_request(make_settings: Any, tmp_path: Path) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    try:
        settings = issuer_settings(make_settings, redis_url="redis://127.0.0.1:6379/0", redis_prefix=prefix, **ROTATION_SETTINGS)
        with running_token_service(settings) as service:
            port = free_port()
            # The API honours the issuer's 1 s max-age, as it must for the rotation plan to hold.
            api_settings = ResourceApiSettings(
                issuer=service.url, audience=f"http://127.0.0.1:{port}", database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db", jwks_min_ttl=1
            )
            with live_server(create_resource_app(api_settings), port=port) as api:
                wait_ready(api.url)
                client_id, secret = service.add_client(scope="notes:read", audience=api.url)
                assert secret is not None
                report = run_scenario(service.url, api.url, (client_id, secret), lambda: planned_rotation(settings), workers=3)
    finally:
        delete_redis_prefix(prefix)
    assert report.failures == []
    assert len(report.kids_seen()) == 3  # the first key and the two rotated in
    assert report.unannounced() == []
    assert report.requests > 100
