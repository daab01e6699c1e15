"""User story: a person connects an MCP client (the MCP Python SDK's, with its OAuth support)
to the notes API's MCP endpoint, knowing nothing but its URL.

Everything else is discovered: the 401 names the endpoint's protected resource metadata
(RFC 9728), which names the token service, whose metadata (RFC 8414) names its endpoints;
the client gets an identity (pre-registered, by dynamic registration or as a client ID
metadata document), sends the person through authorization code + PKCE with
`resource=<the MCP endpoint>` (RFC 8707), and the password sign-in and consent happen in
the "browser". The tools then list and add the person's notes. A real token service and a
real resource API run on loopback ports; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.browser import Browser, add_user, query_of
from tests.support.live_server import free_port, live_server, serve_lifespan, wait_ready
from tests.support.mcp_client import McpUser, MemoryTokenStorage, connected_client, structured
from tests.support.password_login import PASSWORD, password_settings
from tests.support.tls import LocalAuthority, trusting
from tests.support.token_service import RunningTokenService, decode_segment, running_token_service

REDIRECT_URI = "http://127.0.0.1:9999/mcp-client/callback"


@dataclass
class Deployment:
    service: RunningTokenService
    api: str
    documents: DocumentHost

    @property
    def mcp(self) -> str:
        return f"{self.api}/mcp"


@dataclass
class DocumentHost:
    """Where an MCP client publishes its client ID metadata document: https, as the draft and
    the SDK require, with a certificate from a local CA the token service trusts."""

    url: str
    documents: dict[str, bytes]
    fetches: int = 0

    def publish_client(self, path: str, metadata: dict[str, Any]) -> str:
        """Publishes a client's metadata at `path`; its client_id is that URL (draft §4.1)."""
        url = f"{self.url}{path}"
        self.documents[path] = json.dumps({"client_id": url, **metadata}).encode()
        return url

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        body = self.documents.get(scope["path"])
        self.fetches += 1
        status, headers = (200, [(b"content-type", b"application/json"), (b"cache-control", b"max-age=300")]) if body else (404, [])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body or b""})


@pytest.fixture
def deployment(make_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    mcp_resource = {"identifier": f"{api_url}/mcp", "name": "Notes (MCP)", "scopes": ["notes:read", "notes:write"]}
    settings = password_settings(
        make_settings,
        # What a deployment for MCP clients turns on: open registration for public clients,
        # the MCP endpoint as a resource; loopback document URLs for this test only.
        open_registration=True,
        allow_private_urls=True,
        resources=[mcp_resource],
    )
    authority = LocalAuthority.create(tmp_path / "tls")
    documents = DocumentHost("", {})
    with (
        trusting(authority, monkeypatch, tmp_path),
        live_server(documents, ssl_certfile=str(authority.cert_file), ssl_keyfile=str(authority.key_file)) as document_server,
        running_token_service(settings) as service,
    ):
        documents.url = f"https://localhost:{document_server.port}"
        add_user(settings, "alice", PASSWORD, email="alice@example.com")
        api_settings = ResourceApiSettings(issuer=service.url, audience=api_url, database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db")
        with live_server(create_resource_app(api_settings), port=api_port) as api:
            wait_ready(api.url)
            yield Deployment(service, api.url, documents)


async def add_and_list(deployment: Deployment, user: McpUser, storage: MemoryTokenStorage, **client: Any) -> list[str]:
    async with connected_client(deployment.mcp, user, storage, **client) as mcp:
        tools = {tool.name for tool in (await mcp.list_tools()).tools}
        assert tools == {"list_notes", "add_note"}
        added = structured(await mcp.call_tool("add_note", {"text": "written by an assistant"}))
        assert added["text"] == "written by an assistant"
        listed = structured(await mcp.call_tool("list_notes", {}))
        return [note["text"] for note in listed["result"]]


def assert_token_is_for_the_mcp_endpoint(deployment: Deployment, user: McpUser, storage: MemoryTokenStorage) -> None:
    # The client asked for a token for the MCP endpoint (RFC 8707), named as its metadata names it...
    (authorization_url,) = user.authorization_urls
    request = query_of(authorization_url)
    assert authorization_url.startswith(f"{deployment.service.url}/authorize?")
    assert request["resource"] == deployment.mcp
    assert request["code_challenge_method"] == "S256"
    # ...and got one whose audience is exactly that, for the signed-in person.
    assert storage.tokens is not None
    claims = decode_segment(storage.tokens.access_token, 1)
    assert claims["aud"] == deployment.mcp
    assert {"notes:read", "notes:write"} <= set(claims["scope"].split())
    assert claims["sub"] != claims["client_id"]


def test_a_pre_registered_mcp_client_discovers_everything_from_the_401(deployment: Deployment) -> None:
    client_id, _ = deployment.service.add_client(
        client_id="desktop-assistant",
        client_name="Desktop Assistant",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT_URI],
        # The SDK adds offline_access when the token service offers it and the client may refresh.
        scope="notes:read notes:write offline_access",
        resources=[deployment.mcp],
        public=True,
    )
    storage = MemoryTokenStorage(
        client_info=OAuthClientInformationFull(client_id=client_id, redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="none")  # type: ignore[list-item]
    )
    user = McpUser("alice", PASSWORD, REDIRECT_URI)

    notes = asyncio.run(add_and_list(deployment, user, storage))

    assert notes == ["written by an assistant"]
    assert_token_is_for_the_mcp_endpoint(deployment, user, storage)
    # A third-party client: the person saw the consent page, naming the client.
    assert any("Desktop Assistant" in page for page in user.pages_seen)


def test_an_mcp_client_registers_itself_dynamically(deployment: Deployment) -> None:
    storage = MemoryTokenStorage()
    user = McpUser("alice", PASSWORD, REDIRECT_URI)

    notes = asyncio.run(add_and_list(deployment, user, storage, client_name="Notes Assistant"))

    assert notes == ["written by an assistant"]
    # RFC 7591: the token service gave it a client id (and, a public client, no secret).
    assert storage.client_info is not None and storage.client_info.client_secret is None
    assert_token_is_for_the_mcp_endpoint(deployment, user, storage)
    assert decode_segment(storage.tokens.access_token, 1)["client_id"] == storage.client_info.client_id  # type: ignore[union-attr]
    # Never first-party: the consent page names the client and where it sends the person back.
    consent = next(page for page in user.pages_seen if 'name="decision"' in page)
    assert "Notes Assistant" in consent and "127.0.0.1" in consent


def test_an_mcp_client_identified_by_its_metadata_document(deployment: Deployment) -> None:
    document_url = deployment.documents.publish_client(
        "/mcp-client.json",
        {
            "client_name": "Document Assistant",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "notes:read notes:write offline_access",
        },
    )
    storage = MemoryTokenStorage()
    user = McpUser("alice", PASSWORD, REDIRECT_URI)

    notes = asyncio.run(add_and_list(deployment, user, storage, client_metadata_url=document_url))

    assert notes == ["written by an assistant"]
    # No registration: the client id is the document's URL, which the token service fetched.
    assert storage.client_info is not None and storage.client_info.client_id == document_url
    assert query_of(user.authorization_urls[0])["client_id"] == document_url
    assert deployment.documents.fetches >= 1
    assert_token_is_for_the_mcp_endpoint(deployment, user, storage)
    assert any("Document Assistant" in page and "localhost" in page for page in user.pages_seen)


def test_the_same_person_over_http_sees_what_the_assistant_wrote(deployment: Deployment) -> None:
    client_id, _ = deployment.service.add_client(
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT_URI],
        scope="notes:read notes:write offline_access",
        audience=deployment.api,
        resources=[deployment.mcp],
        public=True,
        first_party=True,
    )
    storage = MemoryTokenStorage(
        client_info=OAuthClientInformationFull(client_id=client_id, redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="none")  # type: ignore[list-item]
    )
    asyncio.run(add_and_list(deployment, McpUser("alice", PASSWORD, REDIRECT_URI), storage))
    assert storage.tokens is not None

    # The MCP token is for /mcp only; the HTTP API wants a token for itself.
    mcp_token = storage.tokens.access_token
    refused = httpx.get(f"{deployment.api}/notes", headers={"Authorization": f"Bearer {mcp_token}"})
    assert refused.status_code == 401
    assert f'resource_metadata="{deployment.api}/.well-known/oauth-protected-resource"' in refused.headers["www-authenticate"]


def test_a_tool_needing_more_scope_makes_the_client_step_up(deployment: Deployment) -> None:
    client_id, _ = deployment.service.add_client(
        client_id="reader-first",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT_URI],
        scope="notes:read notes:write offline_access",
        resources=[deployment.mcp],
        public=True,
    )
    # The client holds a token for reading only (granted earlier, say).
    browser = Browser()
    try:
        code = browser.login(
            deployment.service.url, client_id, REDIRECT_URI, "alice", PASSWORD, scope="notes:read", extra={"resource": deployment.mcp}
        )
    finally:
        browser.close()
    response = httpx.post(
        f"{deployment.service.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code.params["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": code.verifier,
            "resource": deployment.mcp,
        },
    )
    assert response.status_code == 200, response.text
    reader = OAuthToken.model_validate(response.json())
    storage = MemoryTokenStorage(
        tokens=reader,
        client_info=OAuthClientInformationFull(client_id=client_id, redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="none"),  # type: ignore[list-item]
    )
    user = McpUser("alice", PASSWORD, REDIRECT_URI)

    notes = asyncio.run(add_and_list(deployment, user, storage))

    # add_note got 403 insufficient_scope naming notes:write; the SDK asked the person again for
    # what it had plus that scope (the MCP spec's step-up), then retried the call.
    assert notes == ["written by an assistant"]
    (step_up,) = user.authorization_urls
    assert {"notes:read", "notes:write"} <= set(query_of(step_up)["scope"].split())
    assert storage.tokens is not None and storage.tokens.access_token != reader.access_token
    assert "notes:write" in decode_segment(storage.tokens.access_token, 1)["scope"].split()
