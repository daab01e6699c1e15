"""A whole day's traffic through both services, with every log line captured: no credential in any.

Client credentials, a failed and a successful password login through the authorization
code flow, a refresh, userinfo, and tokens accepted and refused at the resource API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.observability.conftest import CapturedLogs, resource_api
from tests.support.browser import Browser, add_user, query_of
from tests.support.password_login import PASSWORD, REDIRECT_URI, password_settings
from tests.support.token_service import running_token_service

WRONG_PASSWORD = "not the password at all 0192"


def leaked(secret: str, text: str) -> list[str]:
    """The secret, or for a JWT its signature, wherever it appears."""
    pieces = [secret] + ([secret.rsplit(".", 1)[1]] if secret.count(".") == 2 else [])
    return [piece for piece in pieces if piece and piece in text]


def test_no_secret_of_a_full_flow_reaches_the_logs(make_settings: Any, tmp_path: Path, captured_logs: CapturedLogs) -> None:
    settings = password_settings(make_settings)
    secrets: dict[str, str] = {"password": PASSWORD, "wrong password": WRONG_PASSWORD}
    with running_token_service(settings) as service, resource_api(service.url, tmp_path) as api:
        machine_id, machine_secret = service.add_client(scope="notes:read", audience=api.url)
        assert machine_secret is not None
        secrets["client secret"] = machine_secret
        spa_id, _ = service.add_client(
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            scope="openid profile email offline_access notes:read",
            audience=api.url,
            public=True,
            first_party=True,
        )
        add_user(settings, "alice", PASSWORD, email="alice@example.com")

        machine = httpx.post(
            f"{service.url}/token",
            data={"grant_type": "client_credentials"},
            auth=(machine_id, machine_secret),
            headers={"X-Request-ID": "machine-token-1"},
        )
        assert machine.status_code == 200, machine.text
        secrets["client_credentials access token"] = machine.json()["access_token"]

        browser = Browser()
        try:
            page = browser.authorize(service.url, spa_id, REDIRECT_URI, scope="openid profile email offline_access notes:read")
            assert isinstance(page, httpx.Response) and page.status_code == 200
            again = browser.submit_password(page, "alice", WRONG_PASSWORD, REDIRECT_URI)
            assert isinstance(again, httpx.Response) and "Wrong username or password" in again.text
            location = browser.submit_password(again, "alice", PASSWORD, REDIRECT_URI)
            assert isinstance(location, str), location
            cookies = {cookie.name: cookie.value for cookie in browser.http.cookies.jar}
        finally:
            browser.close()
        assert "ts_session" in cookies
        secrets.update({f"cookie {name}": value for name, value in cookies.items()})
        code = query_of(location)["code"]
        secrets["authorization code"] = code
        secrets["code verifier"] = browser.last_verifier

        redeemed = httpx.post(
            f"{service.url}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": spa_id, "code_verifier": browser.last_verifier},
        )
        assert redeemed.status_code == 200, redeemed.text
        first = redeemed.json()
        refreshed = httpx.post(f"{service.url}/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": spa_id})
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        for generation, tokens in (("first", first), ("refreshed", second)):
            for kind in ("access_token", "id_token", "refresh_token"):
                secrets[f"{generation} {kind}"] = tokens[kind]

        assert httpx.get(f"{service.url}/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200
        assert httpx.get(f"{api.url}/notes", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200
        tampered = second["access_token"][:-6] + ("AAAAAA" if not second["access_token"].endswith("AAAAAA") else "BBBBBB")
        secrets["tampered token"] = tampered
        rejected = httpx.get(f"{api.url}/notes", headers={"Authorization": f"Bearer {tampered}"})
        assert rejected.status_code == 401
    # Both servers are stopped: every line they were going to write is written.

    text = captured_logs.text
    assert {name: found for name, secret in secrets.items() if (found := leaked(secret, text))} == {}

    events = captured_logs.events()  # every line is one JSON object
    access = [e for e in events if e.get("logger") == "token_service.access"]
    assert access and all(e.get("request_id") for e in access)
    assert all("?" not in e["path"] for e in access)
    machine_line = next(e for e in access if e["request_id"] == "machine-token-1")
    assert machine_line | {"duration_ms": 0} == machine_line | {
        "path": "/token",
        "status": 200,
        "client_id": machine_id,
        "grant_type": "client_credentials",
        "outcome": "ok",
        "duration_ms": 0,
    }
    assert any(e.get("login") == "failure" and e.get("upstream") == "local" for e in access)
    assert any(e.get("login") == "success" for e in access)
    refusal = next(e for e in events if e.get("event") == "token rejected")
    assert refusal["rule"] == "signature" and refusal["error"] == "invalid_token" and refusal["reason"]
    json.dumps(events)  # nothing unserialisable slipped through the renderer
