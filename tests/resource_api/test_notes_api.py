"""The notes API over HTTP: scopes, ownership, and the RFC 6750 answers for bad tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.resource_api.conftest import AUDIENCE, bearer
from tests.support.fake_issuer import FakeIssuer

Client = AsyncTestClient[Any]

# RFC 9728 §5.1: every challenge names the API's protected resource metadata.
METADATA = f'resource_metadata="{AUDIENCE}/.well-known/oauth-protected-resource"'
# RFC 9449 §7.2: the API accepts DPoP too, so every challenge offers that scheme beside Bearer.
DPOP_OFFER = f'{METADATA}, DPoP algs="ES256 RS256 PS256 EdDSA", {METADATA}'


def token(issuer: FakeIssuer, scope: str, sub: str = "alice", **claims: Any) -> str:
    return issuer.mint(audience=AUDIENCE, scope=scope, sub=sub, **claims)


async def test_writer_adds_a_note_and_reader_lists_it(client: Client, issuer: FakeIssuer) -> None:
    created = await client.post("/notes", json={"text": "buy milk"}, headers=bearer(token(issuer, "notes:write")))
    listed = await client.get("/notes", headers=bearer(token(issuer, "notes:read")))

    assert created.status_code == 201
    assert created.json()["text"] == "buy milk"
    assert listed.status_code == 200
    assert [n["text"] for n in listed.json()] == ["buy milk"]


async def test_notes_are_isolated_per_subject(client: Client, issuer: FakeIssuer) -> None:
    for sub, text in [("alice", "alice's"), ("bob", "bob's"), ("alice", "alice's second")]:
        response = await client.post("/notes", json={"text": text}, headers=bearer(token(issuer, "notes:write", sub)))
        assert response.status_code == 201

    alice = await client.get("/notes", headers=bearer(token(issuer, "notes:read", "alice")))
    bob = await client.get("/notes", headers=bearer(token(issuer, "notes:read", "bob")))
    carol = await client.get("/notes", headers=bearer(token(issuer, "notes:read", "carol")))

    assert [n["text"] for n in alice.json()] == ["alice's", "alice's second"]
    assert [n["text"] for n in bob.json()] == ["bob's"]
    assert carol.json() == []


async def test_me_returns_the_claims_that_matter(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get(
        "/me", headers=bearer(token(issuer, "notes:write notes:read", email="alice@example.com"))
    )

    assert response.status_code == 200
    assert response.json() == {
        "sub": "alice",
        "client_id": "test-client",
        "scope": "notes:read notes:write",
        "email": "alice@example.com",
    }


async def test_me_omits_email_when_the_token_has_none(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get("/me", headers=bearer(token(issuer, "")))
    assert "email" not in response.json()


async def test_no_token_gets_an_invalid_token_challenge(client: Client) -> None:
    response = await client.get("/notes")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token", error_description="the request has no access token')
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "the request has no access token; send it as 'Authorization: Bearer <token>'",
    }


async def test_malformed_token_gets_invalid_token_with_the_reason(client: Client) -> None:
    response = await client.get("/notes", headers=bearer("opaque-token"))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has 1 dot-separated segment(s), expected 3 '
        "(header.payload.signature); is it an opaque token or an authorization code rather than a JWT access token?\", "
        + DPOP_OFFER
    )
    assert response.json()["error"] == "invalid_token"


async def test_token_for_another_audience_is_refused(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get("/notes", headers=bearer(issuer.mint(audience="http://billing", scope="notes:read")))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f"Bearer error=\"invalid_token\", error_description=\"audience was ['http://billing'], expected '{AUDIENCE}'\", " + DPOP_OFFER
    )


async def test_expired_token_is_refused(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get("/notes", headers=bearer(token(issuer, "notes:read", lifetime=-120)))

    assert response.status_code == 401
    assert re.fullmatch(
        r'Bearer error="invalid_token", error_description="token expired 12\d s ago \(exp \S+Z, leeway 30 s\)", ' + re.escape(DPOP_OFFER),
        response.headers["www-authenticate"],
    )


async def test_missing_scope_is_403_naming_the_scope(client: Client, issuer: FakeIssuer) -> None:
    response = await client.post("/notes", json={"text": "x"}, headers=bearer(token(issuer, "notes:read")))

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", '
        "error_description=\"the token lacks scope 'notes:write' (it has: notes:read)\", "
        'scope="notes:write", ' + DPOP_OFFER
    )
    assert response.json()["scope"] == "notes:write"


async def test_scheme_is_case_insensitive(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get("/notes", headers={"Authorization": f"bEaReR {token(issuer, 'notes:read')}"})
    assert response.status_code == 200


async def test_token_in_query_string_is_refused(client: Client, issuer: FakeIssuer) -> None:
    response = await client.get("/notes", params={"access_token": token(issuer, "notes:read")})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_request"')


async def test_two_credentials_are_an_invalid_request(client: Client, issuer: FakeIssuer) -> None:
    good = token(issuer, "notes:read")
    response = await client.get("/notes", params={"access_token": good}, headers=bearer(good))
    assert response.status_code == 400

    two_headers = [("Authorization", f"Bearer {good}"), ("Authorization", f"Bearer {good}")]
    response = await client.get("/notes", headers=two_headers)
    assert response.status_code == 400
    assert "more than one Authorization header" in response.json()["error_description"]

    joined = await client.get("/notes", headers={"Authorization": f"Bearer {good}, Bearer {good}"})
    assert joined.status_code == 400
    assert "contains a comma" in joined.json()["error_description"]


async def test_basic_credentials_get_a_bearer_challenge(client: Client) -> None:
    response = await client.get("/notes", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "uses Basic, not Bearer" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b"{}", "application/json"),
        (b'{"text": ""}', "application/json"),
        (b'{"text": "   "}', "application/json"),
        (b'{"text": 42}', "application/json"),
        (b'{"text": "' + b"x" * 2001 + b'"}', "application/json"),
        (b'{"text": "ok", "owner_sub": "bob"}', "application/json"),
        (b"", "application/json"),
    ],
)
async def test_bad_bodies_get_a_clear_400(client: Client, issuer: FakeIssuer, body: bytes, content_type: str) -> None:
    response = await client.post(
        "/notes", content=body, headers={**bearer(token(issuer, "notes:write")), "Content-Type": content_type}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


async def test_longest_allowed_note_is_accepted(client: Client, issuer: FakeIssuer) -> None:
    response = await client.post("/notes", json={"text": "x" * 2000}, headers=bearer(token(issuer, "notes:write")))
    assert response.status_code == 201


async def test_unknown_path_is_a_json_404(client: Client) -> None:
    response = await client.get("/nope")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_healthz_needs_no_token(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
