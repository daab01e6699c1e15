"""`token-service doctor` passes a healthy deployment and names each misconfiguration with its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.diagnostics.conftest import Cli, settings_env
from tests.support.backends import PG_HOST, PG_PORT, PostgresDatabases, require_service
from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service
from token_service.keys.sealing import new_kek_text


def lines_with(status: str, out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(status)]


def test_healthy_deployment_exits_0(cli: Cli, service: RunningTokenService) -> None:
    client_id, secret = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
    env = settings_env(service.settings)
    result = cli("doctor", "--issuer", service.url, "--client-id", client_id, "--client-secret-stdin", env=env, stdin=f"{secret}\n")
    assert result.code == 0, result.out
    assert not lines_with("fail", result.out)
    for name in ("settings", "database", "schema", "key-encryption key", "signing key", "key decryption", "key timing", "clock"):
        assert f"ok    {name}:" in result.out
    assert f"ok    {service.url} discovery: reachable; names issuer {service.url} exactly" in result.out
    assert f"ok    {service.url} signer: a client_credentials token for {client_id!r}" in result.out
    assert "warn  store: no Redis configured" in result.out
    assert secret is not None and secret not in result.out


def test_issuer_spelled_differently_fails_naming_the_mismatch(cli: Cli, service: RunningTokenService) -> None:
    localhost = service.url.replace("127.0.0.1", "localhost")
    result = cli("doctor", "--issuer", localhost, "--issuer", service.url + "/", env=settings_env(service.settings))
    assert result.code == 1
    assert (
        f"fail  {localhost} discovery: discovery names issuer {service.url!r}, not {localhost!r} "
        "(localhost and 127.0.0.1 are the same machine but not the same string)"
    ) in result.out
    assert f"not {service.url + '/'!r} (they differ only by a trailing slash)" in result.out
    assert f"configure APIs (RESOURCE_API_ISSUER) and clients with exactly {service.url}" in result.out


def test_unreachable_issuer_fails(cli: Cli, service: RunningTokenService) -> None:
    result = cli("doctor", "--issuer", "http://127.0.0.1:1", env=settings_env(service.settings))
    assert result.code == 1
    assert "fail  http://127.0.0.1:1 discovery: cannot reach the issuer at http://127.0.0.1:1/.well-known/openid-configuration" in result.out


def test_replica_with_different_keys_fails(cli: Cli, service: RunningTokenService, make_settings: Any) -> None:
    with running_token_service(issuer_settings(make_settings)) as stray:
        result = cli("doctor", "--issuer", service.url, "--issuer", stray.url, env=settings_env(service.settings))
    assert result.code == 1
    assert "fail  replicas: the URLs serve different JWKS" in result.out
    assert "same TOKEN_SERVICE_DATABASE_URL and TOKEN_SERVICE_KEY_ENCRYPTION_KEY" in result.out


def test_replicas_sharing_the_database_agree(cli: Cli, make_settings: Any) -> None:
    kek = new_kek_text()
    first = issuer_settings(make_settings, key_encryption_key=kek)
    second = issuer_settings(make_settings, key_encryption_key=kek, database_url=first.effective_database_url)
    with running_token_service(first) as one, running_token_service(second) as two:
        result = cli("doctor", "--issuer", one.url, "--issuer", two.url, env=settings_env(first))
    assert result.code == 0, result.out
    assert "ok    replicas: all 2 URLs serve the same JWKS" in result.out


def test_wrong_key_encryption_key_fails(cli: Cli, service: RunningTokenService) -> None:
    env = {**settings_env(service.settings), "TOKEN_SERVICE_KEY_ENCRYPTION_KEY": new_kek_text()}
    result = cli("doctor", env=env)
    assert result.code == 1
    assert "fail  key decryption: the key-encryption key cannot decrypt the active key" in result.out
    assert "set TOKEN_SERVICE_KEY_ENCRYPTION_KEY to the value the running instances use" in result.out


def test_unmigrated_postgres_schema_fails_with_the_upgrade_fix(cli: Cli, postgres_databases: PostgresDatabases, tmp_path: Any) -> None:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    env = {
        "TOKEN_SERVICE_DATA_DIR": str(tmp_path / "pg"),
        "TOKEN_SERVICE_DATABASE_URL": postgres_databases.create(),
        "TOKEN_SERVICE_KEY_ENCRYPTION_KEY": new_kek_text(),
    }
    result = cli("doctor", env=env)
    assert result.code == 1
    assert "fail  schema:" in result.out and "has no schema yet" in result.out
    assert "fix: run `token-service db upgrade`" in result.out
    assert "ok    clock: the database server's clock is" in result.out


def test_unreachable_redis_fails(cli: Cli, tmp_path: Any) -> None:
    env = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path / "r"), "TOKEN_SERVICE_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = cli("doctor", env=env)
    assert result.code == 1
    assert "fail  store: Redis at redis://127.0.0.1:1/0 is unreachable" in result.out


@pytest.mark.parametrize("as_json", [False, True])
def test_invalid_settings_are_a_fail_line_and_exit_2(cli: Cli, tmp_path: Any, as_json: bool) -> None:
    env = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_ISSUER_URL": "http://127.0.0.1:8000"}
    result = cli("doctor", *(["--json"] if as_json else []), env=env)
    assert result.code == 2
    if as_json:
        report = json.loads(result.out)
        assert report["healthy"] is False
        assert report["checks"][0]["name"] == "settings" and report["checks"][0]["status"] == "fail"
        assert "did you mean TOKEN_SERVICE_ISSUER" in report["checks"][0]["message"]
    else:
        assert result.out.startswith("fail  settings: invalid configuration:")
