"""Bad configuration stops start-up with exit 2 and names the variable and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from token_service.cli import main


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str) -> tuple[int, str]:
    """Runs the CLI in-process; returns the exit code and stderr (stdout stays in `last_stdout`)."""
    for name in list(__import__("os").environ):
        if name.startswith("TOKEN_SERVICE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv) or ["clients", "list"])
    captured = capsys.readouterr()
    last_stdout.append(captured.out)
    return int(exit_info.value.code or 0), captured.err


last_stdout: list[str] = []


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"TOKEN_SERVICE_ISSUER": "auth.example.com"}, ["TOKEN_SERVICE_ISSUER", "absolute"]),
        ({"TOKEN_SERVICE_ISSUER": "http://auth.example.com"}, ["TOKEN_SERVICE_ISSUER", "https"]),
        ({"TOKEN_SERVICE_ISSUER": "https://auth.example.com?x=1"}, ["TOKEN_SERVICE_ISSUER", "query"]),
        ({"TOKEN_SERVICE_ACCESS_TOKEN_TTL": "ten minutes"}, ["TOKEN_SERVICE_ACCESS_TOKEN_TTL", "integer"]),
        ({"TOKEN_SERVICE_KEY_SIZE": "1024"}, ["TOKEN_SERVICE_KEY_SIZE", "2048"]),
        ({"TOKEN_SERVICE_DATABASE_URL": "mysql://db/x"}, ["TOKEN_SERVICE_DATABASE_URL", "postgresql+asyncpg"]),
        ({"TOKEN_SERVICE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/x"}, ["TOKEN_SERVICE_KEY_ENCRYPTION_KEY", "new-kek"]),
        ({"TOKEN_SERVICE_KEY_ENCRYPTION_KEY": "c2hvcnQ"}, ["TOKEN_SERVICE_KEY_ENCRYPTION_KEY", "expected 32"]),
        ({"TOKEN_SERVICE_REDIS_URL": "localhost:6379"}, ["TOKEN_SERVICE_REDIS_URL", "redis://"]),
        ({"TOKEN_SERVICE_ISSUER_URL": "https://auth.example.com"}, ["TOKEN_SERVICE_ISSUER_URL", "did you mean TOKEN_SERVICE_ISSUER"]),
        ({"TOKEN_SERVICE_CONFIG": "/nonexistent/token-service.toml"}, ["TOKEN_SERVICE_CONFIG", "cannot read"]),
    ],
)
def test_bad_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, env: dict[str, str], names: list[str]
) -> None:
    env = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path), **env}
    code, err = run_cli(monkeypatch, capsys, env)
    assert code == 2
    for name in names:
        assert name in err, err
    assert "Traceback" not in err


def write_toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "token-service.toml"
    path.write_text(text)
    return str(path)


def test_unknown_key_in_toml_is_named_with_a_suggestion(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write_toml(tmp_path, 'isuer = "https://auth.example.com"\n')
    code, err = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_CONFIG": config, "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    assert code == 2
    assert "unknown setting 'isuer'" in err and "did you mean 'issuer'" in err


def test_invalid_toml_syntax_is_reported(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write_toml(tmp_path, "issuer = \n")
    code, err = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_CONFIG": config, "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    assert code == 2 and "not valid TOML" in err


def test_bad_client_in_toml_names_the_entry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write_toml(tmp_path, '[[clients]]\nclient_id = "w"\nclient_secret = "short"\n')
    code, err = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_CONFIG": config, "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    assert code == 2 and "[[clients]] #1" in err and "32 characters" in err


def test_environment_wins_over_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from token_service.settings import load_settings

    config = write_toml(tmp_path, 'issuer = "https://file.example.com"\naccess_token_ttl = 120\n')
    settings = load_settings({"TOKEN_SERVICE_CONFIG": config, "TOKEN_SERVICE_ISSUER": "https://env.example.com"})
    assert settings.issuer == "https://env.example.com"
    assert settings.access_token_ttl == 120


def test_clients_from_toml_are_listed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write_toml(
        tmp_path,
        '[[clients]]\nclient_id = "billing-worker"\nclient_secret = "' + "s" * 40 + '"\nscope = "notes:read"\naudience = "http://127.0.0.1:8001"\n',
    )
    code, _ = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_CONFIG": config, "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    assert code == 0
    assert "billing-worker" in last_stdout[-1] and "(config)" in last_stdout[-1]


def test_clients_add_refuses_short_secret(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run_cli(
        monkeypatch, capsys, {"TOKEN_SERVICE_DATA_DIR": str(tmp_path)}, "clients", "add", "--grant", "client_credentials", "--secret", "tooshort"
    )
    assert code == 2 and "at least 32" in err


def test_several_workers_on_the_in_process_store_are_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    environment = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_EPHEMERAL_STORE": "memory"}
    code, err = run_cli(monkeypatch, capsys, environment, "serve", "--workers", "2")
    assert code == 2
    assert "TOKEN_SERVICE_EPHEMERAL_STORE" in err and "TOKEN_SERVICE_REDIS_URL" in err and "--workers" in err


def test_an_issuer_with_a_path_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Its endpoints and discovery documents would be advertised under the path and answer 404.
    code, err = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_ISSUER": "http://127.0.0.1:8000/auth", "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    assert code == 2 and "TOKEN_SERVICE_ISSUER" in err and "has a path" in err and "own host name" in err

def test_a_given_environment_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from token_service.settings import load_settings

    monkeypatch.setenv("TOKEN_SERVICE_PORT", "9999")
    monkeypatch.setenv("TOKEN_SERVICE_CONFIG", write_toml(tmp_path, "port = 9998\n"))
    assert load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path)}).port == 8000
    assert load_settings().port == 9999
