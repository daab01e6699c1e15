"""One client model: TOML `[[clients]]` and `clients add` enforce the same rules with the same words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.token_service.test_settings import last_stdout, run_cli
from token_service.clients.cli import generate_client_key
from token_service.clients.metadata import ClientMetadata, metadata_problems

SECRET = "s" * 40


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # strings and lists of strings are written alike in TOML


def write_client_toml(tmp_path: Path, fields: dict[str, object]) -> str:
    lines = ["[[clients]]"] + [f"{name} = {toml_value(value)}" for name, value in fields.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def private_jwks(tmp_path: Path) -> tuple[dict[str, object], str]:
    key = generate_client_key("ES256").as_dict(private=True)
    path = tmp_path / "leaked.json"
    path.write_text(json.dumps({"keys": [key]}))
    return {"keys": [key]}, str(path)


CASES = [
    pytest.param(
        {"client_id": "app", "public": True, "grant_types": ["authorization_code"], "redirect_uris": ["https://app.example.com/cb#frag"]},
        ["--client-id", "app", "--public", "--grant", "authorization_code", "--redirect-uri", "https://app.example.com/cb#frag"],
        "redirect_uris: 'https://app.example.com/cb#frag' has a fragment; remove the part from '#' on",
        id="fragment",
    ),
    pytest.param(
        {"client_id": "app", "public": True, "grant_types": ["authorization_code"], "redirect_uris": ["javascript:alert(1)"]},
        ["--client-id", "app", "--public", "--grant", "authorization_code", "--redirect-uri", "javascript:alert(1)"],
        "redirect_uris: 'javascript:alert(1)' uses the javascript: scheme, which is refused",
        id="javascript-scheme",
    ),
    pytest.param(
        {"client_id": "app", "public": True, "grant_types": ["authorization_code"], "redirect_uris": ["http://app.example.com/cb"]},
        ["--client-id", "app", "--public", "--grant", "authorization_code", "--redirect-uri", "http://app.example.com/cb"],
        "redirect_uris: 'http://app.example.com/cb' uses http on a non-loopback host; use https",
        id="http-not-loopback",
    ),
    pytest.param(
        {"client_id": "app", "public": True, "grant_types": ["authorization_code"], "redirect_uris": ["myapp://cb"]},
        ["--client-id", "app", "--public", "--grant", "authorization_code", "--redirect-uri", "myapp://cb"],
        "redirect_uris: 'myapp://cb' uses the scheme 'myapp:'; a native app's private-use scheme must be a reverse domain name",
        id="private-use-scheme",
    ),
    pytest.param(
        {"client_id": "app", "public": True, "grant_types": ["client_credentials"]},
        ["--client-id", "app", "--public", "--grant", "client_credentials"],
        "grant_types: a public client cannot use client_credentials",
        id="public-client-credentials",
    ),
    pytest.param(
        {"client_id": "app", "token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"]},
        ["--client-id", "app", "--auth", "private_key_jwt", "--grant", "client_credentials"],
        "jwks_uri: private_key_jwt needs exactly one of jwks_uri",
        id="key-client-without-keys",
    ),
    pytest.param(
        {"client_id": "app", "jwks_uri": "http://127.0.0.1:9/jwks.json", "grant_types": ["client_credentials"]},
        ["--client-id", "app", "--jwks-uri", "http://127.0.0.1:9/jwks.json", "--grant", "client_credentials"],
        "jwks_uri: 'http://127.0.0.1:9/jwks.json' uses plain http; use https (or set TOKEN_SERVICE_ALLOW_PRIVATE_URLS=true",
        id="jwks-uri-loopback",
    ),
    pytest.param(
        {"client_id": "app", "jwks_uri": "https://127.0.0.1/jwks.json", "grant_types": ["client_credentials"]},
        ["--client-id", "app", "--jwks-uri", "https://127.0.0.1/jwks.json", "--grant", "client_credentials"],
        "jwks_uri: 'https://127.0.0.1/jwks.json' points at a loopback or private address",
        id="jwks-uri-private-address",
    ),
]


@pytest.mark.parametrize(("fields", "argv", "expected"), CASES)
def test_toml_and_cli_refuse_a_client_with_the_same_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, fields: dict[str, object], argv: list[str], expected: str
) -> None:
    env = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path)}
    cli_code, cli_err = run_cli(monkeypatch, capsys, env, "clients", "add", *argv)
    toml_code, toml_err = run_cli(monkeypatch, capsys, {**env, "TOKEN_SERVICE_CONFIG": write_client_toml(tmp_path, fields)}, "clients", "list")
    assert cli_code == 2 and toml_code == 2
    assert expected in cli_err
    assert expected in toml_err
    assert "[[clients]]" in toml_err  # says where in the configuration


def test_private_key_in_registered_jwks_is_refused_by_toml_and_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jwks, path = private_jwks(tmp_path)
    env = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path)}
    cli_code, cli_err = run_cli(monkeypatch, capsys, env, "clients", "add", "--client-id", "w", "--grant", "client_credentials", "--jwks-file", path)
    config = write_client_toml(tmp_path, {"client_id": "w", "grant_types": ["client_credentials"], "jwks": json.dumps(jwks)})
    toml_code, toml_err = run_cli(monkeypatch, capsys, {**env, "TOKEN_SERVICE_CONFIG": config}, "clients", "list")
    kid = jwks["keys"][0]["kid"]  # type: ignore[index]
    expected = f"jwks: kid {kid!r} contains the private member 'd'; register only the public key"
    assert cli_code == 2 and toml_code == 2
    assert expected in cli_err and expected in toml_err


def test_the_operators_bad_client_stops_start_up_with_every_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_client_toml(
        tmp_path,
        {
            "client_id": "spa",
            "public": True,
            "grant_types": ["client_credentials", "authorization_code"],
            "redirect_uris": ["http://evil.example.com/cb#frag", "javascript:alert(1)"],
        },
    )
    code, err = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_CONFIG": config}, "serve")
    assert code == 2
    assert "'http://evil.example.com/cb#frag' has a fragment" in err
    assert "'javascript:alert(1)' uses the javascript: scheme" in err
    assert "grant_types: a public client cannot use client_credentials" in err


def test_local_jwks_uri_is_accepted_with_allow_private_urls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_ALLOW_PRIVATE_URLS": "true"}
    code, err = run_cli(
        monkeypatch, capsys, env, "clients", "add", "--client-id", "w", "--grant", "client_credentials", "--jwks-uri", "http://127.0.0.1:9/jwks.json"
    )
    assert code == 0, err
    assert json.loads(last_stdout[-1]) == {"client_id": "w"}  # no secret exists for a key-based client
    run_cli(monkeypatch, capsys, env, "clients", "list", "--json")
    (listed,) = json.loads(last_stdout[-1])
    assert listed["token_endpoint_auth_method"] == "private_key_jwt" and listed["jwks_uri"] == "http://127.0.0.1:9/jwks.json"


def test_keygen_writes_a_private_key_only_its_owner_can_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "worker.jwk"
    # No settings and no database: a broken configuration does not stop keygen.
    code, err = run_cli(monkeypatch, capsys, {"TOKEN_SERVICE_ISSUER": "not a url"}, "clients", "keygen", "--out", str(out), "--alg", "EdDSA")
    assert code == 0, err
    assert out.stat().st_mode & 0o777 == 0o600
    private = json.loads(out.read_text())
    printed = json.loads(last_stdout[-1])
    (public,) = printed["keys"]
    assert private["d"] and "d" not in public and public["kid"] == private["kid"] and public["alg"] == "EdDSA"
    again, err = run_cli(monkeypatch, capsys, {}, "clients", "keygen", "--out", str(out))
    assert again == 2 and "exists" in err


def test_registration_errors_map_to_rfc7591_codes() -> None:
    with pytest.raises(ValidationError) as info:
        ClientMetadata.model_validate(
            {"client_id": "x", "public": True, "grant_types": ["authorization_code", "client_credentials"], "redirect_uris": ["data:text/html,hi"]}
        )
    codes = {(p.field, p.code) for p in metadata_problems(info.value)}
    assert ("redirect_uris", "invalid_redirect_uri") in codes
    assert ("grant_types", "invalid_client_metadata") in codes


def test_response_types_must_agree_with_grant_types() -> None:
    with pytest.raises(ValidationError) as info:
        ClientMetadata.model_validate({"client_id": "x", "client_secret": SECRET, "grant_types": ["client_credentials"], "response_types": ["code"]})
    assert [p.text for p in metadata_problems(info.value)] == [
        "grant_types: response type 'code' needs grant type authorization_code; add it or drop 'code'"
    ]


def test_secret_clients_default_to_basic_and_key_clients_to_private_key_jwt() -> None:
    key = generate_client_key("ES256").as_dict(private=False)
    assert ClientMetadata(client_id="a", client_secret=SECRET).auth_method == "client_secret_basic"
    assert ClientMetadata(client_id="b", jwks={"keys": [key]}).auth_method == "private_key_jwt"
    assert ClientMetadata(client_id="c", public=True, grant_types=["authorization_code"], redirect_uris=["http://127.0.0.1:9/cb"]).auth_method == "none"
