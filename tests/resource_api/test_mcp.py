"""The notes API over MCP at /mcp: its own protected resource, the same notes, the same scopes.

JSON-RPC is sent as any MCP client sends it over streamable HTTP; the end-to-end test
with the MCP SDK's client and a real token service is tests/e2e/test_mcp_client_story.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from resource_api.settings import ConfigurationError, load_settings
from shared.dpop import DPoPKey
from tests.resource_api.conftest import AUDIENCE, bearer, settings_for
from tests.support.fake_issuer import FakeIssuer

Client = AsyncTestClient[Any]
MCP_RESOURCE = f"{AUDIENCE}/mcp"
MCP_METADATA = f"{AUDIENCE}/.well-known/oauth-protected-resource/mcp"
ACCEPT = {"Accept": "application/json, text/event-stream"}


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


async def rpc(client: Client, message: Any, token: str | None, **headers: str) -> httpx.Response:
    auth = bearer(token) if token is not None else {}
    return await client.post("/mcp", json=message, headers={**ACCEPT, **auth, **headers})


def mcp_token(issuer: FakeIssuer, scope: str, *, audience: str = MCP_RESOURCE, sub: str = "alice") -> str:
    return issuer.mint(audience=audience, scope=scope, sub=sub)


async def test_both_metadata_documents_are_public_and_name_their_own_resource(client: Client, issuer: FakeIssuer) -> None:
    api = await client.get("/.well-known/oauth-protected-resource")
    mcp = await client.get("/.well-known/oauth-protected-resource/mcp")

    assert api.status_code == 200 and mcp.status_code == 200
    assert api.json()["resource"] == AUDIENCE and api.json()["resource_name"] == "Notes API"
    # RFC 9728 §3.3: the resource in a path-suffixed document is the URL it was derived from.
    assert mcp.json() == {
        "resource": MCP_RESOURCE,
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["notes:read", "notes:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes API (MCP)",
        "dpop_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
    }


async def test_no_token_gets_401_pointing_at_the_mcp_metadata(client: Client) -> None:
    response = await rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, None)

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="the request has no access token')
    # MCP scope selection: the scopes to ask for, then where to ask (on both schemes).
    assert f'scope="notes:read notes:write", resource_metadata="{MCP_METADATA}", DPoP ' in challenge
    assert challenge.endswith(f'resource_metadata="{MCP_METADATA}"')
    assert response.json()["error"] == "invalid_token"


async def test_tools_add_and_list_the_callers_notes_like_the_http_api(client: Client, issuer: FakeIssuer) -> None:
    token = mcp_token(issuer, "notes:read notes:write")
    added = await rpc(client, call("add_note", text="from an assistant"), token)
    listed = await rpc(client, call("list_notes"), token)
    over_http = await client.get("/notes", headers=bearer(issuer.mint(audience=AUDIENCE, scope="notes:read", sub="alice")))
    bob = await rpc(client, call("list_notes"), mcp_token(issuer, "notes:read", sub="bob"))

    assert added.status_code == 200 and added.json()["result"]["isError"] is False
    assert added.json()["result"]["structuredContent"]["text"] == "from an assistant"
    assert [n["text"] for n in listed.json()["result"]["structuredContent"]["result"]] == ["from an assistant"]
    assert [n["text"] for n in over_http.json()] == ["from an assistant"]
    assert bob.json()["result"]["structuredContent"]["result"] == []


async def test_a_token_for_the_api_itself_is_accepted_at_mcp(client: Client, issuer: FakeIssuer) -> None:
    response = await rpc(client, call("list_notes"), mcp_token(issuer, "notes:read", audience=AUDIENCE))

    assert response.status_code == 200 and response.json()["result"]["isError"] is False


async def test_a_token_for_mcp_is_not_a_token_for_the_http_api(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get("/notes", headers=bearer(mcp_token(issuer, "notes:read")))

    assert response.status_code == 401
    assert response.json()["error_description"] == f"audience was ['{MCP_RESOURCE}'], expected '{AUDIENCE}'"


async def test_a_token_for_another_api_is_refused_naming_both_audiences(client: Client, issuer: FakeIssuer) -> None:
    response = await rpc(client, call("list_notes"), mcp_token(issuer, "notes:read", audience="http://billing"))

    assert response.status_code == 401
    assert response.json()["error_description"] == f"audience was ['http://billing'], expected '{MCP_RESOURCE}' or '{AUDIENCE}'"
    assert f'resource_metadata="{MCP_METADATA}"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("scope", "message", "needed"),
    [
        ("notes:read", call("add_note", text="x"), "notes:write"),
        ("notes:write", call("list_notes"), "notes:read"),
        ("", [call("list_notes"), call("add_note", text="x")], "notes:read notes:write"),
    ],
)
async def test_a_tool_call_without_its_scope_is_403_naming_it(
    client: Client, issuer: FakeIssuer, scope: str, message: Any, needed: str
) -> None:
    response = await rpc(client, message, mcp_token(issuer, scope))

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope" and response.json()["scope"] == needed
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope", error_description="the token lacks scope')
    assert f'scope="{needed}", resource_metadata="{MCP_METADATA}"' in challenge


async def test_listing_tools_needs_only_a_valid_token(client: Client, issuer: FakeIssuer) -> None:
    response = await rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, mcp_token(issuer, ""))

    assert response.status_code == 200
    tools = {tool["name"]: tool for tool in response.json()["result"]["tools"]}
    assert set(tools) == {"list_notes", "add_note"}
    assert tools["list_notes"]["annotations"]["readOnlyHint"] is True
    assert tools["add_note"]["annotations"]["destructiveHint"] is False
    assert tools["add_note"]["inputSchema"]["required"] == ["text"]


@pytest.mark.parametrize("text", ["   ", "x" * 2001])
async def test_a_note_the_http_api_would_refuse_is_a_tool_error(client: Client, issuer: FakeIssuer, text: str) -> None:
    token = mcp_token(issuer, "notes:read notes:write")
    response = await rpc(client, call("add_note", text=text), token)
    listed = await rpc(client, call("list_notes"), token)

    assert response.status_code == 200 and response.json()["result"]["isError"] is True
    assert "the note was not added" in response.json()["result"]["content"][0]["text"]
    assert listed.json()["result"]["structuredContent"]["result"] == []


async def test_a_request_from_a_foreign_origin_is_refused(client: Client, issuer: FakeIssuer) -> None:
    token = mcp_token(issuer, "notes:read")
    foreign = await rpc(client, call("list_notes"), token, Origin="http://evil.example")
    own = await rpc(client, call("list_notes"), token, Origin=AUDIENCE)

    assert foreign.status_code == 403 and "evil.example" in foreign.json()["error_description"]
    assert own.status_code == 200


async def test_garbage_is_answered_by_the_mcp_server_not_a_500(client: Client, issuer: FakeIssuer) -> None:
    response = await client.post(
        "/mcp", content=b"{not json", headers={**ACCEPT, **bearer(mcp_token(issuer, "notes:read")), "Content-Type": "application/json"}
    )

    assert 400 <= response.status_code < 500


async def test_deeply_nested_json_is_answered_not_a_500(client: Client, issuer: FakeIssuer) -> None:
    # Python's json module raises RecursionError, not ValueError, past ~1 000 levels.
    response = await client.post(
        "/mcp", content=b"[" * 200_000, headers={**ACCEPT, **bearer(mcp_token(issuer, "notes:read")), "Content-Type": "application/json"}
    )

    assert 400 <= response.status_code < 500


async def test_a_dpop_bound_token_works_at_mcp_with_its_proof(client: Client, issuer: FakeIssuer) -> None:
    key = DPoPKey.generate("ES256")
    token = issuer.mint(audience=MCP_RESOURCE, scope="notes:read", sub="alice", cnf={"jkt": key.jkt})
    with_proof = [*ACCEPT.items(), ("Authorization", f"DPoP {token}"), ("DPoP", key.proof("POST", MCP_RESOURCE, access_token=token))]
    as_bearer = await rpc(client, call("list_notes"), token)

    response = await client.post("/mcp", json=call("list_notes"), headers=with_proof)

    assert response.status_code == 200 and response.json()["result"]["isError"] is False
    assert as_bearer.status_code == 401 and "DPoP-bound" in as_bearer.json()["error_description"]


async def test_refusals_at_mcp_are_counted_like_the_apis_own(client: Client, issuer: FakeIssuer) -> None:
    await rpc(client, call("list_notes"), None)
    await rpc(client, call("add_note", text="x"), mcp_token(issuer, "notes:read"))

    metrics = (await client.get("/metrics")).text
    assert 'resource_api_token_rejections_total{error="invalid_token",rule="credentials"} 1.0' in metrics
    assert 'resource_api_token_rejections_total{error="insufficient_scope",rule="scope"} 1.0' in metrics


def test_the_mcp_identifier_follows_the_public_url(issuer: FakeIssuer, tmp_path: Path) -> None:
    behind_proxy = settings_for(issuer.issuer, tmp_path).model_copy(update={"public_url": "https://api.example.com/notes-api/"})
    explicit = behind_proxy.model_copy(update={"mcp_resource": "https://mcp.example.com"})

    assert behind_proxy.mcp_resource_identifier == "https://api.example.com/notes-api/mcp"
    assert explicit.mcp_resource_identifier == "https://mcp.example.com"
    with pytest.raises(ConfigurationError, match="RESOURCE_API_MCP_RESOURCE"):
        load_settings(issuer=issuer.issuer, mcp_resource="mcp.example.com")


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
async def test_methods_a_stateless_endpoint_does_not_serve_get_405_at_once(client: Client, issuer: FakeIssuer, method: str) -> None:
    # GET would open a server-sent event stream that a session-less endpoint never writes to.
    response = await client.request(method, "/mcp", headers={**ACCEPT, **bearer(mcp_token(issuer, "notes:read"))})

    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "POST only" in response.json()["error_description"]


async def test_an_oversized_body_is_413_after_the_token_is_checked(client: Client, issuer: FakeIssuer) -> None:
    huge = call("add_note", text="x" * (4 * 1024 * 1024 + 1))
    anonymous = await rpc(client, huge, None)
    response = await rpc(client, huge, mcp_token(issuer, "notes:write"))

    assert anonymous.status_code == 401  # nothing is read for a caller without a token
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"
