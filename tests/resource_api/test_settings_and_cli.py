"""Configuration: read only when asked, and a missing issuer stops start-up with the fix."""

from __future__ import annotations

import pytest

from resource_api.cli import main
from resource_api.settings import ConfigurationError, load_settings


def test_missing_issuer_names_the_variable_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESOURCE_API_ISSUER", raising=False)

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    assert caught.value.variables == ("RESOURCE_API_ISSUER",)
    assert caught.value.message.startswith("RESOURCE_API_ISSUER is not set; set it to the token service's issuer URL")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOURCE_API_ISSUER", "https://id.example.com")
    monkeypatch.setenv("RESOURCE_API_LEEWAY", "5")

    settings = load_settings()

    assert settings.issuer == "https://id.example.com"
    assert settings.audience == "http://127.0.0.1:8001"
    assert settings.port == 8001
    assert settings.leeway == 5
    assert settings.database_url == "sqlite+aiosqlite:///./.resource-api/notes.db"


def test_invalid_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOURCE_API_ISSUER", "id.example.com")
    monkeypatch.setenv("RESOURCE_API_PORT", "eighty")

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    assert set(caught.value.variables) == {"RESOURCE_API_ISSUER", "RESOURCE_API_PORT"}
    assert "RESOURCE_API_ISSUER is invalid: must be an http:// or https:// URL" in caught.value.message


def test_serve_without_issuer_exits_2_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RESOURCE_API_ISSUER", raising=False)

    assert main(["serve", "--port", "8999"]) == 2

    err = capsys.readouterr().err
    assert "RESOURCE_API_ISSUER is not set" in err
    assert "RESOURCE_API_ISSUER=http://127.0.0.1:8000" in err


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2


def test_serve_writes_structured_json_logs(tmp_path: "Path") -> None:
    import json as json_module
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.support.live_server import free_port

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RESOURCE_API_")},
        "RESOURCE_API_ISSUER": "http://127.0.0.1:1",  # unreachable: the API starts and logs the retries
        "RESOURCE_API_PORT": str(free_port()),
        "RESOURCE_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/notes.db",
    }
    script = Path(sys.executable).parent / "resource-api"
    process = subprocess.Popen([str(script), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        lines: list[str] = []
        assert process.stdout is not None
        while time.monotonic() < deadline and len(lines) < 3:
            line = process.stdout.readline()
            if line:
                lines.append(line)
    finally:
        process.terminate()
        process.wait(10)
    assert lines, "resource-api serve wrote no log line"
    for line in lines:
        record = json_module.loads(line)
        assert "event" in record and "level" in record
