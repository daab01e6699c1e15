"""`doctor` checks that each jwks_uri client's key set is reachable and holds usable keys."""

from __future__ import annotations

import pytest

from tests.support.client_keys import ClientKeyServer, new_key
from tests.support.token_service import RunningTokenService
from tests.token_service.test_settings import last_stdout, run_cli


def test_doctor_reports_each_key_clients_jwks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key_service: RunningTokenService, key_server: ClientKeyServer
) -> None:
    key = new_key()
    key_server.keys = [key]
    good, _ = key_service.add_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=key_server.url)
    missing_url = key_server.url.replace("/jwks.json", "/gone.json")
    broken, _ = key_service.add_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=missing_url)
    env = {"TOKEN_SERVICE_DATA_DIR": str(key_service.settings.data_dir), "TOKEN_SERVICE_ALLOW_PRIVATE_URLS": "true"}
    code, _ = run_cli(monkeypatch, capsys, env, "doctor")
    out = last_stdout[-1]
    assert code == 1
    assert f"ok    client {good} keys: the JWKS at {key_server.url} holds 1 usable key(s): {key.kid!r}" in out
    assert f"fail  client {broken} keys: the client's JWKS at {missing_url} answered HTTP 404" in out
