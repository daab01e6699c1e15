"""The Next.js guide's OpenID Connect flow, run by oauth4webapi (what Auth.js uses) against a real token service.

Node performs discovery, builds the authorization URL with PKCE, state and nonce, then
validates the callback (state, RFC 9207 `iss`), exchanges the code, verifies the ID
token, calls userinfo and refreshes. The scripted browser logs in between. The access
token it ends up with is then forwarded to the resource API, as the guide says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.backends import in_ci
from tests.support.browser import Browser, add_user
from tests.support.client_keys import new_key, public_jwks
from tests.support.live_server import free_port, live_server
from tests.support.token_service import issuer_settings, running_token_service

NODE_DIR = Path(__file__).resolve().parent / "node"
# The redirect URI the guide registers: Auth.js's callback route for a provider with id "token-service".
REDIRECT_URI = "http://localhost:3000/api/auth/callback/token-service"
SCOPE = "openid profile email offline_access notes:read"
PASSWORD = "correct horse battery staple"


def require_node() -> str:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not (NODE_DIR / "node_modules" / "oauth4webapi").is_dir():
        problem = f"oauth4webapi is not installed; run `npm ci --prefix {NODE_DIR.relative_to(Path.cwd()) if NODE_DIR.is_relative_to(Path.cwd()) else NODE_DIR}`"
    if problem is None:
        assert node is not None
        return node
    if in_ci():
        pytest.fail(f"{problem}; under CI=true the guide tests are mandatory (.ci/run installs it)")
    pytest.skip(f"{problem} (mandatory under CI=true)")


class Flow:
    def __init__(self, node: str, env: dict[str, str]) -> None:
        self.node = node
        self.env = {"PATH": os.environ["PATH"], **env}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.node, "flow.mjs", *args], cwd=NODE_DIR, env=self.env, capture_output=True, text=True, timeout=60)

    def json(self, *args: str) -> dict[str, Any]:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))


@pytest.fixture(params=["private_key_jwt", "client_secret_basic"])
def setup(request: pytest.FixtureRequest, make_settings: Any, tmp_path: Path) -> Iterator[tuple[Flow, str, str]]:
    node = require_node()
    settings = issuer_settings(make_settings, upstreams=[{"name": "local", "kind": "password"}])
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    with running_token_service(settings) as service:
        # What `token-service clients add --grant authorization_code --grant refresh_token
        # --redirect-uri ... --scope ... --audience ... [--auth private_key_jwt --jwks-file F]`
        # registers: a confidential client whose key (or secret) stays on the Next.js server.
        credentials: dict[str, str] = {}
        fields: dict[str, Any] = {}
        if request.param == "private_key_jwt":
            key = new_key("ES256")
            key_file = tmp_path / "nextjs-client.jwk"
            key_file.write_text(json.dumps(key.as_dict(private=True)))
            fields = {"token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks(key)}
            credentials["CLIENT_KEY_FILE"] = str(key_file)
        client_id, secret = service.add_client(
            grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT_URI], scope=SCOPE, audience=api_url, **fields
        )
        if secret is not None:
            credentials["CLIENT_SECRET"] = secret
        user_id = add_user(settings, "alice", PASSWORD, email="alice@example.com", name="Alice")
        api_settings = ResourceApiSettings(issuer=service.url, audience=api_url, database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db")
        with live_server(create_resource_app(api_settings), port=api_port):
            env = {"ISSUER": service.url, "CLIENT_ID": client_id, "REDIRECT_URI": REDIRECT_URI, "SCOPE": SCOPE, **credentials}
            yield Flow(node, env), user_id, api_url


def log_in(url: str) -> str:
    browser = Browser()
    try:
        page = browser.follow(browser.http.get(url), REDIRECT_URI)
        assert isinstance(page, httpx.Response) and page.status_code == 200, page
        result = browser.submit_password(page, "alice", PASSWORD, REDIRECT_URI)
        if isinstance(result, httpx.Response) and "/consent" in result.text:
            result = browser.consent(result, "allow", REDIRECT_URI)
        assert isinstance(result, str), getattr(result, "text", result)
        return result
    finally:
        browser.close()


def test_auth_js_flow_yields_an_access_token_the_api_accepts(setup: tuple[Flow, str, str]) -> None:
    flow, user_id, api_url = setup
    start = flow.json("authorize-url")
    assert "code_challenge_method=S256" in start["url"]
    callback = log_in(start["url"])

    # A callback whose state is not the one this browser started with is refused
    # before the code is spent (the CSRF check Auth.js does with its state cookie).
    forged = flow.run("exchange", callback, start["code_verifier"], start["nonce"], "another-state")
    assert forged.returncode == 1 and "state" in forged.stderr, forged.stderr

    result = flow.json("exchange", callback, start["code_verifier"], start["nonce"], start["state"])
    assert result["id_token_claims"]["sub"] == user_id
    assert result["id_token_claims"]["nonce"] == start["nonce"]
    assert result["userinfo"]["email"] == "alice@example.com"
    assert result["refresh_token_rotated"] is True

    for access_token in (result["access_token"], result["refreshed_access_token"]):
        notes = httpx.get(f"{api_url}/notes", headers={"Authorization": f"Bearer {access_token}"})
        assert notes.status_code == 200, notes.headers.get("www-authenticate")
    me = httpx.get(f"{api_url}/me", headers={"Authorization": f"Bearer {result['access_token']}"}).json()
    assert me["sub"] == user_id

    # The mistake the guide warns about: the ID token is for the app, not for the API.
    wrong = httpx.get(f"{api_url}/notes", headers={"Authorization": f"Bearer {result['id_token']}"})
    assert wrong.status_code == 401
    assert "send the access token" in wrong.headers["www-authenticate"]


def test_a_code_from_a_tampered_verifier_is_refused(setup: tuple[Flow, str, str]) -> None:
    flow, _, _ = setup
    start = flow.json("authorize-url")
    callback = log_in(start["url"])
    stolen = flow.run("exchange", callback, "x" * 64, start["nonce"], start["state"])
    assert stolen.returncode == 1 and "invalid_grant" in stolen.stderr, stolen.stderr
