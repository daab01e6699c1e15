"""A registered client signs a user in (Authlib as the client library), always behind the
consent page; operators see and remove it; an open registration nobody used expires."""

from __future__ import annotations

import asyncio
import json
import secrets
import time

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from tests.registration.conftest import API, RegistrationService
from tests.support.browser import Browser, hidden_fields
from tests.support.clock import FakeClock
from tests.support.password_login import PASSWORD
from tests.token_service.test_settings import last_stdout, run_cli
from token_service.clients.models import Client
from token_service.clients.registry import ClientRegistry
from token_service.db.engine import create_engine, session_factory

REDIRECT = "http://127.0.0.1:9999/callback"


def register_app(registrar: RegistrationService, name: str = "Notes Desktop") -> dict[str, str]:
    # What an MCP or desktop client sends (RFC 7591 §3.1), unknown fields included.
    body = {
        "client_name": name,
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "openid notes:read",
        "audience": API,
        "software_id": "notes-desktop",
    }
    response = httpx.post(f"{registrar.url}/register", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def authlib_sign_in(registrar: RegistrationService, client_id: str, browser: Browser) -> tuple[dict[str, str], httpx.Response]:
    """Authlib builds the request and redeems the code; the scripted browser signs in and consents."""
    client = OAuth2Client(client_id, redirect_uri=REDIRECT, scope="openid notes:read", code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = secrets.token_urlsafe(48)
    url, _state = client.create_authorization_url(f"{registrar.url}/authorize", code_verifier=verifier, nonce=secrets.token_urlsafe(8))
    login = browser.follow(browser.http.get(url), REDIRECT)
    assert isinstance(login, httpx.Response) and login.status_code == 200
    consent = browser.submit_password(login, "erin", PASSWORD, REDIRECT)
    assert isinstance(consent, httpx.Response), "a self-registered client got a code without the consent page"
    redirect = browser.consent(consent, "allow", REDIRECT)
    assert isinstance(redirect, str)
    token = client.fetch_token(f"{registrar.url}/token", authorization_response=redirect, code_verifier=verifier)
    client.close()
    return dict(token), consent


def test_a_registered_client_signs_in_with_authlib_after_consent(registrar: RegistrationService) -> None:
    info = register_app(registrar, "Notes Desktop")
    browser = Browser()
    try:
        token, consent = authlib_sign_in(registrar, info["client_id"], browser)
        assert token["token_type"] == "Bearer" and token["access_token"] and token["scope"] == "notes:read openid"
        # The consent page names the client and where the user returns to, and says it registered itself.
        assert "Notes Desktop" in consent.text and "127.0.0.1:9999" in consent.text
        assert "This application registered itself" in consent.text
        # Never first-party: the next sign-in asks again (and prompt=none cannot skip it).
        again = browser.authorize(registrar.url, info["client_id"], REDIRECT, scope="openid notes:read")
        assert isinstance(again, httpx.Response) and "Allow access?" in again.text and hidden_fields(again.text)
        silent = browser.authorize(registrar.url, info["client_id"], REDIRECT, scope="openid notes:read", extra={"prompt": "none"})
        assert isinstance(silent, str) and "error=consent_required" in silent
    finally:
        browser.close()


def clients_of(registrar: RegistrationService, clock: FakeClock | None = None) -> tuple[ClientRegistry, list[Client]]:
    settings = registrar.service.settings

    async def run() -> tuple[ClientRegistry, list[Client]]:
        engine = create_engine(settings)
        registry = ClientRegistry(session_factory(engine), {}, clock=clock or time.time, unused_open_ttl=settings.open_registration_unused_ttl)
        try:
            return registry, await registry.list()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_an_unused_open_registration_expires_and_a_used_one_stays(registrar: RegistrationService) -> None:
    unused, used = register_app(registrar, "Never Used"), register_app(registrar, "Used")
    browser = Browser()
    try:
        authlib_sign_in(registrar, used["client_id"], browser)
    finally:
        browser.close()
    ttl = registrar.service.settings.open_registration_unused_ttl
    later = FakeClock(time.time() + ttl + 5)
    ids_now = {c.client_id for c in clients_of(registrar)[1]}
    assert {unused["client_id"], used["client_id"]} <= ids_now
    ids_later = {c.client_id for c in clients_of(registrar, later)[1]}
    assert used["client_id"] in ids_later and unused["client_id"] not in ids_later

    async def sweep() -> int:
        engine = create_engine(registrar.service.settings)
        try:
            registry = ClientRegistry(session_factory(engine), {}, clock=later, unused_open_ttl=ttl)
            removed = await registry.remove_unused_open_registrations()
            assert await registry.get(unused["client_id"]) is None and await registry.get(used["client_id"]) is not None
            return removed
        finally:
            await engine.dispose()

    assert asyncio.run(sweep()) >= 1
    # Removed for good: the service itself no longer knows it.
    page = httpx.get(f"{registrar.url}/authorize", params={"client_id": unused["client_id"], "redirect_uri": REDIRECT, "response_type": "code"})
    assert page.status_code == 400 and "not registered" in page.text


def test_operators_list_inspect_and_remove_dynamic_clients(
    registrar: RegistrationService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    info = register_app(registrar, "Inspect Me")
    env = {"TOKEN_SERVICE_DATA_DIR": str(registrar.service.settings.data_dir)}
    assert run_cli(monkeypatch, capsys, env, "clients", "list")[0] == 0
    rows = [line.split("\t") for line in last_stdout[-1].splitlines()]
    assert [info["client_id"], "(dynamic)"] in [[row[0], row[-1]] for row in rows]
    assert [registrar.operator_id, "(operator)"] in [[row[0], row[-1]] for row in rows]
    assert run_cli(monkeypatch, capsys, env, "clients", "list", "--json", "--origin", "dynamic")[0] == 0
    listed = json.loads(last_stdout[-1])
    assert info["client_id"] in {c["client_id"] for c in listed} and {c["origin"] for c in listed} == {"dynamic"}

    assert run_cli(monkeypatch, capsys, env, "clients", "show", info["client_id"])[0] == 0
    shown = json.loads(last_stdout[-1])
    assert shown["origin"] == "dynamic" and shown["client_name"] == "Inspect Me" and shown["registered_openly"] is True
    assert shown["redirect_uris"] == [REDIRECT] and shown["last_used_at"] is None

    assert run_cli(monkeypatch, capsys, env, "clients", "remove", info["client_id"])[0] == 0
    code, err = run_cli(monkeypatch, capsys, env, "clients", "show", info["client_id"])
    assert code == 1 and "no client" in err
    read = httpx.get(info["registration_client_uri"], headers={"Authorization": f"Bearer {info['registration_access_token']}"})
    assert read.status_code == 401
