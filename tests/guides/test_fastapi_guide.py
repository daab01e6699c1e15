"""The resource-server guide's code, exactly as published (docs/examples/*.py), against a real token service."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.live_server import free_port, live_server
from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def example(name: str) -> ModuleType:
    # Imported from the docs folder itself, so the guide and this test cannot drift.
    spec = importlib.util.spec_from_file_location(f"guide_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered first: Litestar resolves the handlers' type hints through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def token_service(make_settings: Any) -> Iterator[RunningTokenService]:
    with running_token_service(issuer_settings(make_settings)) as service:
        yield service


@pytest.fixture(params=["fastapi_app", "litestar_app"])
def api_url(request: pytest.FixtureRequest, token_service: RunningTokenService) -> Iterator[str]:
    port = free_port()
    audience = f"http://127.0.0.1:{port}"
    app = example(request.param).create_app(issuer=token_service.url, audience=audience)
    with live_server(app, port=port) as server:
        yield server.url


def token(service: RunningTokenService, audience: str, scope: str) -> str:
    client_id, secret = service.add_client(grant_types=["client_credentials"], scope=scope, audience=audience)
    response = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials", "scope": scope}, auth=(client_id, secret or ""))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_token_with_the_scope_is_accepted(token_service: RunningTokenService, api_url: str) -> None:
    access = token(token_service, api_url, "reports:read")
    response = httpx.get(f"{api_url}/reports", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200, response.headers.get("www-authenticate")
    me = httpx.get(f"{api_url}/me", headers={"Authorization": f"Bearer {access}"}).json()
    assert me["scope"] == ["reports:read"]


def test_no_token_is_401_with_a_bearer_challenge(api_url: str) -> None:
    response = httpx.get(f"{api_url}/reports")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_the_401_leads_a_client_to_the_token_service(token_service: RunningTokenService, api_url: str) -> None:
    # RFC 9728: from the challenge to the metadata, from there to the issuer's discovery.
    challenge = httpx.get(f"{api_url}/reports").headers["www-authenticate"]
    metadata_url = f"{api_url}/.well-known/oauth-protected-resource"
    assert f'resource_metadata="{metadata_url}"' in challenge
    metadata = httpx.get(metadata_url).json()
    assert metadata == {
        "resource": api_url,
        "authorization_servers": [token_service.url],
        "scopes_supported": ["reports:read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Reports API",
        "dpop_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
    }
    discovery = httpx.get(f"{metadata['authorization_servers'][0]}/.well-known/oauth-authorization-server").json()
    assert discovery["issuer"] == token_service.url


def test_token_without_the_scope_is_403_naming_it(token_service: RunningTokenService, api_url: str) -> None:
    access = token(token_service, api_url, "notes:read")
    response = httpx.get(f"{api_url}/reports", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="reports:read"' in challenge


def test_token_for_another_api_is_401(token_service: RunningTokenService, api_url: str) -> None:
    access = token(token_service, "https://other-api.example.com", "reports:read")
    response = httpx.get(f"{api_url}/reports", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 401
    assert "audience" in response.headers["www-authenticate"]


def test_calling_another_api_with_a_key_as_the_guide_shows(token_service: RunningTokenService, api_url: str, tmp_path: Path) -> None:
    import asyncio
    import json

    from tests.support.client_keys import new_key, public_jwks

    key = new_key("ES256")
    key_file = tmp_path / "worker.jwk"
    key_file.write_text(json.dumps(key.as_dict(private=True)))
    client_id, _ = token_service.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key), scope="reports:read", audience=api_url
    )
    reports = asyncio.run(example("calling_api").list_reports(token_service.url, client_id, str(key_file), api_url))
    assert reports == {"owner": client_id, "reports": []}


def test_the_guide_shows_the_tested_file() -> None:
    guide = (EXAMPLES.parent / "resource-server-python.md").read_text()
    assert (EXAMPLES / "calling_api.py").read_text() in guide
