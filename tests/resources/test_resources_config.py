"""Resources are registered in the TOML file (`[[resources]]`) or with `token-service resources
add|list|remove`; a bad one is refused with a message naming the field."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.support.cli_environment import use_settings_environment
from token_service.cli import main
from token_service.settings import ConfigurationError, TokenServiceSettings, load_settings

NOTES = "http://127.0.0.1:8001"


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings, *argv: str) -> tuple[int, str, str]:
    use_settings_environment(monkeypatch, settings)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_resources_add_list_remove(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings) -> None:
    code, out, err = run_cli(
        monkeypatch, capsys, settings,
        "resources", "add", NOTES, "--scope", "notes:read notes:write", "--name", "Notes API", "--describe", "notes:read=Read your notes",
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["identifier"] == NOTES and added["name"] == "Notes API"
    assert added["scopes"] == [{"name": "notes:read", "description": "Read your notes"}, {"name": "notes:write", "description": None}]

    code, out, err = run_cli(monkeypatch, capsys, settings, "resources", "add", NOTES, "--scope", "notes:read")
    assert code == 2 and "already exists" in err

    code, out, _ = run_cli(monkeypatch, capsys, settings, "resources", "list", "--json")
    assert code == 0 and json.loads(out) == [added]

    code, out, _ = run_cli(monkeypatch, capsys, settings, "resources", "remove", NOTES)
    assert code == 0 and "removed resource" in out
    code, _, err = run_cli(monkeypatch, capsys, settings, "resources", "remove", NOTES)
    assert code == 1 and "no resource" in err
    code, out, _ = run_cli(monkeypatch, capsys, settings, "resources", "list", "--json")
    assert json.loads(out) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["notes-api", "--scope", "notes:read"], ["identifier", "not an absolute URI"]),
        (["https://api.example.com/#x", "--scope", "notes:read"], ["identifier", "fragment"]),
        (["https://api.example.com", "--scope", "openid notes:read"], ["scopes.0.name", "OpenID Connect scope"]),
        (["https://api.example.com", "--scope", 'say"hi'], ["scopes.0.name", "RFC 6749 §3.3"]),
        (["https://api.example.com", "--scope", "a", "--describe", "b=words"], ["--describe", "not in --scope"]),
        (["https://api.example.com", "--scope", "a", "--describe", "a"], ["--describe", "SCOPE=TEXT"]),
    ],
)
def test_resources_add_refuses_a_bad_resource_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings, argv: list[str], expected: list[str]
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, settings, "resources", "add", *argv)
    assert code == 2
    for text in expected:
        assert text in err, err
    assert "Traceback" not in err


def test_toml_resources_take_plain_and_described_scopes(tmp_path: Path) -> None:
    config = tmp_path / "token-service.toml"
    config.write_text(
        "[[resources]]\n"
        f'identifier = "{NOTES}"\n'
        'name = "Notes API"\n'
        'scopes = ["notes:read", { name = "notes:write", description = "Add notes for you" }]\n'
    )
    settings = load_settings({"TOKEN_SERVICE_CONFIG": str(config), "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    [resource] = settings.resources
    assert resource.identifier == NOTES and resource.name == "Notes API"
    assert [(s.name, s.description) for s in resource.scopes] == [("notes:read", None), ("notes:write", "Add notes for you")]


@pytest.mark.parametrize(
    ("entry", "where", "expected"),
    [
        ('identifier = "urn:x#y"\n', "[[resources]] #1 identifier in", "fragment"),
        ('identifier = "api.example.com"\n', "[[resources]] #1 identifier in", "not an absolute URI"),
        ('identifier = "https://a.example"\nscopes = ["x", "x"]\n', "[[resources]] #1 scopes in", "more than once"),
        ('identifier = "https://a.example"\nscopes = ["x", {name = "openid"}]\n', "[[resources]] #1 scopes.1.name in", "OpenID Connect scope"),
        ('identifier = "https://a.example"\naudience = "x"\n', "[[resources]] #1 audience in", "unknown setting"),
    ],
)
def test_bad_toml_resource_stops_start_up_naming_the_field(tmp_path: Path, entry: str, where: str, expected: str) -> None:
    config = tmp_path / "token-service.toml"
    config.write_text("[[resources]]\n" + entry)
    with pytest.raises(ConfigurationError) as info:
        load_settings({"TOKEN_SERVICE_CONFIG": str(config), "TOKEN_SERVICE_DATA_DIR": str(tmp_path)})
    assert where in str(info.value) and expected in str(info.value), str(info.value)


def test_toml_resources_are_listed_and_cannot_be_removed_by_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: TokenServiceSettings, tmp_path: Path
) -> None:
    config = tmp_path / "with-resources.toml"
    config.write_text(f'[[resources]]\nidentifier = "{NOTES}"\nscopes = ["notes:read"]\n')
    use_settings_environment(monkeypatch, settings)
    monkeypatch.setenv("TOKEN_SERVICE_CONFIG", str(config))
    with pytest.raises(SystemExit) as exit_info:
        main(["resources", "list"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and NOTES in out and "(config)" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["resources", "remove", NOTES])
    assert exit_info.value.code == 2 and "config file" in capsys.readouterr().err
