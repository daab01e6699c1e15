from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.issuer_fixtures import issuer, key1, key2
from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service
from token_service.cli import main
from token_service.settings import TokenServiceSettings

__all__ = ["issuer", "key1", "key2"]

API = "http://127.0.0.1:8001"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def settings_env(settings: TokenServiceSettings) -> dict[str, str]:
    """The environment under which `token-service` loads these same settings."""
    env = {
        "TOKEN_SERVICE_ISSUER": settings.issuer,
        "TOKEN_SERVICE_DATA_DIR": str(settings.data_dir),
        "TOKEN_SERVICE_PORT": str(settings.port),
    }
    if settings.database_url is not None:
        env["TOKEN_SERVICE_DATABASE_URL"] = settings.database_url
    if settings.key_encryption_key is not None:
        env["TOKEN_SERVICE_KEY_ENCRYPTION_KEY"] = settings.key_encryption_key.get_secret_value()
    if settings.redis_url is not None:
        env["TOKEN_SERVICE_REDIS_URL"] = settings.redis_url
    return env


class Cli:
    """Runs `token-service` in-process with exactly the given TOKEN_SERVICE_* environment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], default_env: dict[str, str]) -> None:
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        self._default_env = default_env

    def __call__(self, *argv: str, env: dict[str, str] | None = None, stdin: str | None = None) -> CliResult:
        for name in list(os.environ):
            if name.startswith("TOKEN_SERVICE_"):
                self._monkeypatch.delenv(name)
        for name, value in (env if env is not None else self._default_env).items():
            self._monkeypatch.setenv(name, value)
        if stdin is not None:
            self._monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        self._capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        captured = self._capsys.readouterr()
        return CliResult(int(exit_info.value.code or 0), captured.out, captured.err)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    return Cli(monkeypatch, capsys, {"TOKEN_SERVICE_DATA_DIR": str(tmp_path / "cli-data")})


@pytest.fixture
def service(make_settings: Any) -> Iterator[RunningTokenService]:
    with running_token_service(issuer_settings(make_settings)) as running:
        yield running


def client_credentials_token(service: RunningTokenService, scope: str = "notes:read", audience: str = API) -> str:
    import httpx

    client_id, secret = service.add_client(scope=scope, audience=audience)
    assert secret is not None
    response = httpx.post(
        f"{service.url}/token", data={"grant_type": "client_credentials", "scope": scope}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
