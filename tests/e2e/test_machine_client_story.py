"""User story: a machine client gets a token from the token service and calls the resource API.

Both services run for real over HTTP; the token is fetched with Authlib's OAuth 2.0
client, and the resource API finds the keys through discovery — no shared secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.live_server import LiveServer, free_port, live_server, wait_ready
from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service


@pytest.fixture
def token_service(make_settings: Any) -> Iterator[RunningTokenService]:
    with running_token_service(issuer_settings(make_settings)) as service:
        yield service


@pytest.fixture
def resource_api(token_service: RunningTokenService, tmp_path: Path) -> Iterator[LiveServer]:
    port = free_port()
    settings = ResourceApiSettings(
        issuer=token_service.url, audience=f"http://127.0.0.1:{port}", database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db"
    )
    with live_server(create_resource_app(settings), port=port) as server:
        wait_ready(server.url)
        yield server


def fetch_token(service: RunningTokenService, audience: str, scope: str) -> str:
    client_id, secret = service.add_client(scope="notes:read notes:write", audience=audience)
    with OAuth2Client(client_id, secret) as client:
        return str(client.fetch_token(f"{service.url}/token", grant_type="client_credentials", scope=scope)["access_token"])


def test_token_with_the_scope_reads_and_writes_notes(token_service: RunningTokenService, resource_api: LiveServer) -> None:
    token = fetch_token(token_service, resource_api.url, "notes:read notes:write")
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{resource_api.url}/notes", json={"text": "hello"}, headers=headers)
    assert created.status_code == 201, created.text
    listed = httpx.get(f"{resource_api.url}/notes", headers=headers)
    assert listed.status_code == 200
    assert [n["text"] for n in listed.json()] == ["hello"]
    me = httpx.get(f"{resource_api.url}/me", headers=headers).json()
    assert me["sub"] == me["client_id"]


def test_missing_and_bad_tokens_get_401_with_the_reason(token_service: RunningTokenService, resource_api: LiveServer) -> None:
    missing = httpx.get(f"{resource_api.url}/notes")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    token = fetch_token(token_service, resource_api.url, "notes:read")
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    bad = httpx.get(f"{resource_api.url}/notes", headers={"Authorization": f"Bearer {tampered}"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert "signature" in bad.headers["www-authenticate"]


def test_token_without_the_scope_gets_403_insufficient_scope(token_service: RunningTokenService, resource_api: LiveServer) -> None:
    token = fetch_token(token_service, resource_api.url, "notes:read")
    response = httpx.post(f"{resource_api.url}/notes", json={"text": "nope"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="notes:write"' in challenge


def test_token_for_another_api_is_rejected(token_service: RunningTokenService, resource_api: LiveServer) -> None:
    token = fetch_token(token_service, "https://billing.example.com", "notes:read")
    response = httpx.get(f"{resource_api.url}/notes", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "audience" in response.headers["www-authenticate"]


def test_token_from_another_token_service_instance_is_rejected(
    token_service: RunningTokenService, resource_api: LiveServer, make_settings: Any
) -> None:
    with running_token_service(issuer_settings(make_settings)) as other:
        token = fetch_token(other, resource_api.url, "notes:read")
    response = httpx.get(f"{resource_api.url}/notes", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "is not in the JWKS of" in response.json()["error_description"]


def test_a_client_named_like_a_user_cannot_read_that_users_notes(
    token_service: RunningTokenService, resource_api: LiveServer, tmp_path: Path
) -> None:
    from token_service.clients.registry import ClientExistsError
    from tests.support.browser import add_user

    user_id = add_user(token_service.settings, "erin", "correct horse battery staple")
    assert user_id.startswith("u_"), "new user subs carry the reserved prefix"
    # A legacy user's notes (ids from before the prefix), written straight into the API's database.
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy.ext.asyncio import create_async_engine

    from resource_api.notes.models import Note

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/notes.db")
        async with engine.begin() as db:
            await db.execute(Note.__table__.insert().values(owner_sub=legacy_sub, text="legacy user's secret", created_at=datetime.now(UTC)))  # type: ignore[attr-defined]
        await engine.dispose()

    # Registering a client whose id is the user's sub, or has the user-id form, is refused.
    for taken in (user_id, "u_anything"):
        with pytest.raises(ClientExistsError):
            token_service.add_client(client_id=taken, scope="notes:read", audience=resource_api.url)
    # Even a client_id equal to a pre-prefix (legacy) user's sub cannot reach that user's notes:
    # a client's own token is kept in a separate space by the notes API.
    legacy_sub = "LegacyUserSub0123456789"
    token_service.add_client(client_id=legacy_sub, scope="notes:read", audience=resource_api.url, secret="s" * 40)
    asyncio.run(seed())
    with OAuth2Client(legacy_sub, "s" * 40) as client:
        token = client.fetch_token(f"{token_service.url}/token", grant_type="client_credentials", scope="notes:read")["access_token"]
    listed = httpx.get(f"{resource_api.url}/notes", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and listed.json() == []
