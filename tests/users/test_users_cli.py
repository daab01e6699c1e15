"""`token-service users add|list`, run in-process as an operator would run it."""

from __future__ import annotations

import io
import json

import pytest

from tests.support.cli_environment import use_settings_environment
from token_service.cli import main
from token_service.settings import TokenServiceSettings


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    use_settings_environment(monkeypatch, settings)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_users_add_reads_the_password_from_stdin_and_users_list_shows_the_user(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings
) -> None:
    code, out, err = run_cli(
        monkeypatch, capsys, settings, "users", "add", "Frank", "--email", "frank@example.com", "--name", "Frank", "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["username"] == "frank" and added["email"] == "frank@example.com" and added["id"]

    code, out, _ = run_cli(monkeypatch, capsys, settings, "users", "list", "--json")
    assert code == 0 and json.loads(out) == [added]


def test_users_add_refuses_a_short_password_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, settings, "users", "add", "grace", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 8" in err and out == ""


def test_users_add_refuses_a_taken_username_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings
) -> None:
    assert run_cli(monkeypatch, capsys, settings, "users", "add", "heidi", "--password-stdin", stdin="correct horse battery\n")[0] == 0
    code, _, err = run_cli(monkeypatch, capsys, settings, "users", "add", "HEIDI", "--password-stdin", stdin="another password\n")
    assert code == 2 and "already taken" in err


def test_users_add_without_password_stdin_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, settings, "users", "add", "ivan")
    assert code == 2 and "--password-stdin" in err
