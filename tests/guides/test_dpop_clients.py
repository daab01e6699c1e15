"""DPoP with a real client library: oauth4webapi gets DPoP-bound tokens from us and uses them at the notes API.

Node runs client_credentials and code + PKCE (with `dpop_jkt`) with a WebCrypto key,
calls userinfo and the API with proofs, refreshes with a proof. Python then checks
what a thief holding only the tokens could do: nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.guides.test_nextjs_guide import NODE_DIR, Flow, log_in, require_node
from tests.support.browser import add_user
from tests.support.live_server import free_port, live_server
from tests.support.token_service import decode_segment, issuer_settings, running_token_service

REDIRECT_URI = "http://127.0.0.1:5173/callback"
SCOPE = "openid profile email offline_access notes:read"
PASSWORD = "correct horse battery staple"


class DPoPFlow(Flow):
    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.node, "dpop.mjs", *args], cwd=NODE_DIR, env=self.env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def services(make_settings: Any, tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str], str]]:
    node = require_node()
    settings = issuer_settings(make_settings, upstreams=[{"name": "local", "kind": "password"}])
    api_url = f"http://127.0.0.1:{free_port()}"
    with running_token_service(settings) as service:
        machine_id, secret = service.add_client(grant_types=["client_credentials"], scope="notes:read notes:write", audience=api_url)
        spa_id, _ = service.add_client(
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            scope=SCOPE,
            audience=api_url,
            public=True,
            first_party=True,
        )
        add_user(settings, "alice", PASSWORD, email="alice@example.com")
        api_settings = ResourceApiSettings(issuer=service.url, audience=api_url, database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db")
        with live_server(create_resource_app(api_settings), port=int(api_url.rsplit(":", 1)[1])):
            base = {"ISSUER": service.url, "API_URL": api_url, "REDIRECT_URI": REDIRECT_URI, "SCOPE": SCOPE}
            yield node, service.url, {**base, "CLIENT_ID": machine_id, "CLIENT_SECRET": secret or ""}, spa_id


def test_client_credentials_with_dpop_and_the_api_accepts_the_bound_token(services: tuple[str, str, dict[str, str], str]) -> None:
    node, _, machine_env, _ = services
    done = DPoPFlow(node, machine_env).json("client-credentials")

    assert done["token_type"].lower() == "dpop"
    assert decode_segment(done["access_token"], 1)["cnf"] == {"jkt": done["jkt"]}
    assert done["created"]["status"] == 201
    assert [n["text"] for n in done["notes"]["body"]] == ["from oauth4webapi with DPoP"]
    # A copy of the token is worthless without the key.
    stolen = httpx.get(f"{machine_env['API_URL']}/notes", headers={"Authorization": f"Bearer {done['access_token']}"})
    assert stolen.status_code == 401 and "DPoP-bound" in stolen.json()["error_description"]


def test_code_flow_with_pkce_and_dpop_for_a_public_client(services: tuple[str, str, dict[str, str], str]) -> None:
    node, issuer, machine_env, spa_id = services
    flow = DPoPFlow(node, {**machine_env, "CLIENT_ID": spa_id, "CLIENT_SECRET": ""})
    start = flow.json("authorize-url")
    assert "dpop_jkt=" in start["url"]
    callback = log_in(start["url"], REDIRECT_URI)

    done = flow.json("exchange", callback, start["code_verifier"], start["nonce"], start["state"], start["private_jwk"])

    assert done["token_type"].lower() == "dpop" and done["refreshed_token_type"].lower() == "dpop"
    assert decode_segment(done["access_token"], 1)["cnf"] == {"jkt": done["jkt"]}
    assert done["userinfo"]["email"] == "alice@example.com"
    assert done["notes"]["status"] == 200 and done["notes_after_refresh"]["status"] == 200
    # The rotated refresh token is bound to the key too: without a proof it is refused.
    stolen = httpx.post(f"{issuer}/token", data={"grant_type": "refresh_token", "refresh_token": done["refresh_token"], "client_id": spa_id})
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_dpop_proof" and "bound to DPoP key" in stolen.json()["error_description"]
