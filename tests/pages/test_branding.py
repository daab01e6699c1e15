"""Branding settings and the words on the consent page, without a browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from token_service.cli import main
from token_service.pages import Branding, describe_scopes
from token_service.pages.branding import WHITE, contrast_ratio, parse_hex, readable_on_white
from token_service.settings import ConfigurationError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "hint"),
    [
        ("TOKEN_SERVICE_BRAND_ACCENT_COLOR", "red", "#rrggbb"),
        ("TOKEN_SERVICE_BRAND_ACCENT_COLOR", "#12345", "#rrggbb"),
        ("TOKEN_SERVICE_BRAND_ACCENT_COLOR", "#12345g", "#rrggbb"),
        ("TOKEN_SERVICE_BRAND_LOGO_URL", "http://cdn.example.com/logo.svg", "serve the logo over https"),
        ("TOKEN_SERVICE_BRAND_LOGO_URL", "ftp://cdn.example.com/logo.svg", "absolute https URL"),
        ("TOKEN_SERVICE_BRAND_LOGO_URL", "/static/logo.svg", "absolute https URL"),
        ("TOKEN_SERVICE_BRAND_LOGO_URL", "https://user:pw@cdn.example.com/logo.svg", "credentials"),
        ("TOKEN_SERVICE_BRAND_NAME", "   ", "empty"),
        ("TOKEN_SERVICE_BRAND_NAME", "x" * 61, "60"),
    ],
)
def test_bad_branding_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, variable: str, value: str, hint: str
) -> None:
    for name in list(os.environ):
        if name.startswith("TOKEN_SERVICE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TOKEN_SERVICE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["clients", "list"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert variable in err and hint in err, err
    assert "Traceback" not in err


def test_branding_settings_are_read_and_normalised(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TOKEN_SERVICE_DATA_DIR": str(tmp_path),
            "TOKEN_SERVICE_BRAND_NAME": "  Example   Corp ",
            "TOKEN_SERVICE_BRAND_LOGO_URL": "https://cdn.example.com/logo.svg",
            "TOKEN_SERVICE_BRAND_ACCENT_COLOR": "#0B6E4F",
        }
    )
    assert (settings.brand_name, settings.brand_logo_url, settings.brand_accent_color) == (
        "Example Corp",
        "https://cdn.example.com/logo.svg",
        "#0b6e4f",
    )
    loopback = load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_BRAND_LOGO_URL": "http://127.0.0.1:8080/logo.png"})
    assert loopback.brand_logo_url == "http://127.0.0.1:8080/logo.png"
    with pytest.raises(ConfigurationError, match="TOKEN_SERVICE_BRAND_ACCENT_COLOR"):
        load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_BRAND_ACCENT_COLOR": "blue"})


def test_a_readable_accent_is_kept_and_an_unreadable_one_darkened_to_the_lightest_readable_shade() -> None:
    assert readable_on_white("#0b6e4f") == "#0b6e4f"
    darkened = readable_on_white("#ffdd00")
    assert contrast_ratio(parse_hex(darkened), WHITE) >= 4.5
    # The lightest passing shade: the step before it (2 % less darkening) still fails.
    factor = round(parse_hex(darkened)[0] / 255 / 0.02) * 0.02
    red, green, blue = (round(channel * (factor + 0.02)) for channel in parse_hex("#ffdd00"))
    assert contrast_ratio((red, green, blue), WHITE) < 4.5
    assert Branding.of(name="X", logo_url=None, accent_color="#ffdd00").accent == darkened


def test_page_policy_admits_the_logo_origin_and_no_script() -> None:
    branded = Branding.of(name="X", logo_url="https://cdn.example.com:8443/brand/logo.svg", accent_color="#0b6e4f")
    assert branded.content_security_policy == (
        "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.example.com:8443; frame-ancestors 'none'; base-uri 'none'"
    )
    plain = Branding.of(name="X", logo_url=None, accent_color="#0b6e4f")
    assert "img-src 'self';" in plain.content_security_policy and "script" not in plain.content_security_policy


def test_scopes_are_described_in_words_with_a_hook_for_registered_ones() -> None:
    lines = describe_scopes({"notes:write", "email", "openid", "notes:read"}, {"notes:read": "Read your notes"}.get)
    assert [(line.name, line.text) for line in lines] == [
        ("openid", "Confirm who you are with your account's identifier"),
        ("email", "See your email address and whether it is verified"),
        ("notes:read", "Read your notes"),
        ("notes:write", "notes:write"),
    ]
    assert [line.described for line in lines] == [True, True, True, False]
    assert [line.text for line in describe_scopes(["profile", "offline_access"])] == [
        "See your name and basic profile details",
        "Keep access after you close it, until you revoke it or the access expires",
    ]
