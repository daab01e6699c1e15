"""`token-service keys ...` in-process: what an operator types and reads, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.keys.conftest import with_keys
from tests.support.cli_environment import use_settings_environment
from token_service.cli import main
from token_service.keys.service import KeyService
from token_service.settings import TokenServiceSettings, load_settings


class KeysCli:
    def __init__(self, settings: TokenServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        use_settings_environment(monkeypatch, settings)

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(["keys", *argv])
        captured = self.capsys.readouterr()
        return int(exit_info.value.code or 0), captured.out, captured.err

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def keys_cli(make_settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> KeysCli:
    settings = make_settings()
    with_keys(settings, KeyService.list)  # what `serve` does first: schema and first key
    return KeysCli(settings, monkeypatch, capsys)


def test_list_shows_the_first_key_as_active_and_published(keys_cli: KeysCli) -> None:
    (key,) = keys_cli.json("list")
    assert key["state"] == "active" and key["published"] is True
    assert key["created"].endswith("Z") and key["activates"] == key["created"]
    code, out, _ = keys_cli("list")
    assert code == 0 and key["kid"] in out and "active" in out and key["created"] in out


def test_planned_rotation_says_when_the_new_key_starts_signing(keys_cli: KeysCli) -> None:
    code, out, err = keys_cli("rotate")
    assert code == 0 and err == ""
    assert "published now and starts signing at" in out and "(in 900 s" in out and "max-age 300 s" in out
    listed = {k["state"]: k for k in keys_cli.json("list")}
    assert listed["pending"]["published"] is True and listed["pending"]["activates"] in out
    code, _, err = keys_cli("rotate")
    assert code == 2 and "already pending" in err and "--activate-now" in err


def test_emergency_rotation_warns_about_cached_jwks(keys_cli: KeysCli) -> None:
    (old,) = keys_cli.json("list")
    code, out, err = keys_cli("rotate", "--activate-now")
    assert code == 0, err
    assert "WARNING" in err and "TOKEN_SERVICE_JWKS_MAX_AGE = 300 s" in err
    assert f"key {old['kid']} no longer signs" in out
    states = sorted(k["state"] for k in keys_cli.json("list"))
    assert states == ["active", "retired"]


def test_rotate_json_names_the_new_key(keys_cli: KeysCli) -> None:
    report = keys_cli.json("rotate")
    (change,) = report["changes"]
    assert change["action"] == "publish" and change["activates"].endswith("Z")
    assert change["kid"] in {k["kid"] for k in keys_cli.json("list")}


def test_revoke_prints_the_latency_until_verifiers_drop_the_key(keys_cli: KeysCli) -> None:
    (old,) = keys_cli.json("list")
    code, out, err = keys_cli("revoke", "--", old["kid"])  # a thumbprint may start with "-"
    assert code == 0, err
    assert "removed from the JWKS now" in out and "within TOKEN_SERVICE_JWKS_MAX_AGE = 300 s" in out
    assert "signs from now on" in err  # the signer was replaced, with the cached-JWKS warning
    listed = {k["kid"]: k for k in keys_cli.json("list")}
    assert listed[old["kid"]]["state"] == "revoked" and listed[old["kid"]]["published"] is False
    assert sum(k["state"] == "active" for k in listed.values()) == 1


def test_retire_the_pending_key_withdraws_it(keys_cli: KeysCli) -> None:
    (change,) = keys_cli.json("rotate")["changes"]
    code, out, err = keys_cli("retire", "--", change["kid"])
    assert code == 0, err
    assert "withdrawn from the JWKS now" in out
    assert {k["kid"]: k["published"] for k in keys_cli.json("list")}[change["kid"]] is False


def test_retiring_the_only_signer_is_refused_with_the_way_out(keys_cli: KeysCli) -> None:
    (old,) = keys_cli.json("list")
    code, _, err = keys_cli("retire", "--", old["kid"])
    assert code == 2 and "keys rotate" in err
    assert keys_cli.json("list") == [old]


@pytest.mark.parametrize("command", ["retire", "revoke"])
def test_unknown_kid_exits_2(keys_cli: KeysCli, command: str) -> None:
    code, _, err = keys_cli(command, "no-such-kid")
    assert code == 2 and "no signing key with kid 'no-such-kid'" in err and "Traceback" not in err


def test_missing_kid_is_a_usage_error(keys_cli: KeysCli) -> None:
    code, _, err = keys_cli("revoke")
    assert code == 2 and "kid" in err


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"TOKEN_SERVICE_JWKS_MAX_AGE": "600", "TOKEN_SERVICE_KEY_PREPUBLISH_SECONDS": "300"},
            [
                (
                    "TOKEN_SERVICE_JWKS_MAX_AGE (600 s) + TOKEN_SERVICE_KEY_PUBLISH_MARGIN (60 s) = 660 s exceeds "
                    "TOKEN_SERVICE_KEY_PREPUBLISH_SECONDS (300 s)"
                ),
                "at least 660",
            ],
        ),
        (
            {"TOKEN_SERVICE_KEY_ROTATION_PERIOD": "1800"},
            ["TOKEN_SERVICE_KEY_ROTATION_PERIOD (1800 s) is shorter than", "= 1890 s", "or to 0"],
        ),
    ],
)
def test_key_timings_that_break_the_guarantee_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, env: dict[str, str], expected: list[str]
) -> None:
    use_settings_environment(monkeypatch, load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path)}))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["keys", "list"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    for text in expected:
        assert text in err, err
    assert not (tmp_path / "token-service.db").exists()
