"""DPoP-bound tokens at the notes API (RFC 9449 §7): accepted with their proof, refused with the reason otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from resource_api.app import create_app
from shared.dpop import DPoPKey
from tests.resource_api.conftest import AUDIENCE, bearer, settings_for
from tests.support.backends import REDIS_URL, delete_redis_prefix, redis_prefix, require_service
from tests.support.fake_issuer import FakeIssuer
from tests.support.dpop_proofs import forged_proof

Client = AsyncTestClient[Any]
NOTES = f"{AUDIENCE}/notes"  # the API's public URL (its audience's origin), not the test client's Host
METADATA = f'resource_metadata="{AUDIENCE}/.well-known/oauth-protected-resource"'


@pytest.fixture
def key() -> DPoPKey:
    return DPoPKey.generate("ES256")


def bound_token(issuer: FakeIssuer, key: DPoPKey, scope: str = "notes:read notes:write") -> str:
    return issuer.mint(audience=AUDIENCE, scope=scope, sub="alice", cnf={"jkt": key.jkt})


def dpop(token: str, proof: str | list[str]) -> list[tuple[str, str]]:
    proofs = proof if isinstance(proof, list) else [proof]
    return [("Authorization", f"DPoP {token}"), *(("DPoP", p) for p in proofs)]


async def test_bound_token_with_its_proof_reads_and_writes_notes(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    created = await client.post("/notes", json={"text": "sender-constrained"}, headers=dpop(token, key.proof("POST", NOTES, access_token=token)))
    listed = await client.get("/notes", headers=dpop(token, key.proof("GET", NOTES, access_token=token)))
    me = await client.get("/me", headers=dpop(token, key.proof("GET", f"{AUDIENCE}/me", access_token=token)))

    assert created.status_code == 201, created.text
    assert [n["text"] for n in listed.json()] == ["sender-constrained"]
    assert me.json()["dpop_jkt"] == key.jkt


async def test_query_of_the_request_is_not_part_of_htu(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    response = await client.get("/notes?x=1", headers=dpop(token, key.proof("GET", NOTES, access_token=token)))
    assert response.status_code == 200, response.text


async def test_bound_token_sent_as_bearer_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    response = await client.get("/notes", headers=bearer(bound_token(issuer, key)))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "DPoP-bound" in response.json()["error_description"]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"') and challenge.endswith(f'DPoP algs="ES256 RS256 PS256 EdDSA", {METADATA}')


async def _refusal(client: Client, headers: list[tuple[str, str]], method: str = "GET") -> tuple[str, str, str]:
    response = await client.request(method, "/notes", headers=headers)
    assert response.status_code == 401, response.text
    body = response.json()
    return body["error"], body["error_description"], response.headers["www-authenticate"]


async def test_proof_for_another_method_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    error, reason, challenge = await _refusal(client, dpop(token, key.proof("POST", NOTES, access_token=token)))
    assert error == "invalid_dpop_proof"
    assert reason == "the DPoP proof is for method 'POST', but this request is GET"
    # RFC 9449 §7.1: the error rides on the DPoP challenge; Bearer is still offered.
    assert challenge.startswith(f'Bearer {METADATA}, DPoP error="invalid_dpop_proof", error_description="the DPoP proof is for method')
    assert challenge.endswith(f'algs="ES256 RS256 PS256 EdDSA", {METADATA}')


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8001/me", "http://testserver.local/notes", "https://127.0.0.1:8001/notes", "http://evil.example/notes"],
)
async def test_proof_for_another_url_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey, url: str) -> None:
    token = bound_token(issuer, key)
    error, reason, _ = await _refusal(client, dpop(token, key.proof("GET", url, access_token=token)))
    assert error == "invalid_dpop_proof"
    assert reason.startswith("the DPoP proof is for URL") and reason.endswith(f"but this request is to {NOTES}")


async def test_proof_without_ath_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    error, reason, _ = await _refusal(client, dpop(token, key.proof("GET", NOTES)))
    assert (error, reason) == ("invalid_dpop_proof", "the DPoP proof has no ath; a proof sent with an access token must carry its hash (RFC 9449 §4.2)")


async def test_proof_with_the_hash_of_another_token_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    other = bound_token(issuer, key)
    error, reason, _ = await _refusal(client, dpop(token, key.proof("GET", NOTES, access_token=other)))
    assert (error, reason) == ("invalid_dpop_proof", "the DPoP proof ath does not match the access token sent with it")


async def test_proof_signed_by_another_key_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    thief = DPoPKey.generate("ES256")
    error, reason, challenge = await _refusal(client, dpop(token, thief.proof("GET", NOTES, access_token=token)))
    assert error == "invalid_token"
    assert reason == f"the DPoP proof is signed by key {thief.jkt}, but the token is bound to key {key.jkt}"
    assert challenge.startswith(f'Bearer {METADATA}, DPoP error="invalid_token"')


async def test_replayed_proof_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    proof = key.proof("GET", NOTES, access_token=token)
    first = await client.get("/notes", headers=dpop(token, proof))
    assert first.status_code == 200
    error, reason, _ = await _refusal(client, dpop(token, proof))
    assert (error, reason) == ("invalid_dpop_proof", "the DPoP proof was already used (its jti was seen before); make a new proof for every request")


@pytest.mark.parametrize(("offset", "expected"), [(-600, "s ago; proofs are accepted for 300 s"), (120, "s in the future; check the client's clock")])
async def test_proof_too_old_or_from_the_future_is_refused(
    client: Client, issuer: FakeIssuer, key: DPoPKey, offset: int, expected: str
) -> None:
    import time

    token = bound_token(issuer, key)
    error, reason, _ = await _refusal(client, dpop(token, key.proof("GET", NOTES, access_token=token, iat=time.time() + offset)))
    assert error == "invalid_dpop_proof" and expected in reason


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("alg_none", "the DPoP proof alg 'none' is not accepted (accepted: ES256, RS256, PS256, EdDSA); an unsigned proof proves nothing"),
        ("hs256", "the DPoP proof alg 'HS256' is not accepted (accepted: ES256, RS256, PS256, EdDSA); a symmetric algorithm cannot prove possession of a public key"),
        ("private_jwk", "the DPoP proof jwk holds private key members (d); put only the public key in the header and treat this key as compromised"),
    ],
)
async def test_unacceptable_proof_keys_are_refused(client: Client, issuer: FakeIssuer, key: DPoPKey, kind: str, expected: str) -> None:
    token = bound_token(issuer, key)
    error, reason, _ = await _refusal(client, dpop(token, forged_proof(kind, "GET", NOTES, key=key, access_token=token)))
    assert (error, reason) == ("invalid_dpop_proof", expected)


async def test_two_proofs_are_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    proofs = [key.proof("GET", NOTES, access_token=token), key.proof("GET", NOTES, access_token=token)]
    error, reason, _ = await _refusal(client, dpop(token, proofs))
    assert (error, reason) == ("invalid_dpop_proof", "the request carries more than one DPoP proof; send exactly one DPoP header (RFC 9449 §4.3)")


async def test_dpop_scheme_without_a_proof_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    error, reason, _ = await _refusal(client, [("Authorization", f"DPoP {bound_token(issuer, key)}")])
    assert error == "invalid_dpop_proof" and reason.startswith("the request has no DPoP header")


async def test_unbound_token_under_the_dpop_scheme_is_refused(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = issuer.mint(audience=AUDIENCE, scope="notes:read")
    error, reason, _ = await _refusal(client, dpop(token, key.proof("GET", NOTES, access_token=token)))
    assert (error, reason) == ("invalid_token", "the access token is not DPoP-bound (no cnf.jkt); send it as 'Authorization: Bearer <token>'")


async def test_missing_scope_under_dpop_is_challenged_on_the_dpop_scheme(client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key, scope="notes:read")
    response = await client.post("/notes", json={"text": "x"}, headers=dpop(token, key.proof("POST", NOTES, access_token=token)))
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith(f'Bearer {METADATA}, DPoP error="insufficient_scope"')
    assert 'scope="notes:write"' in response.headers["www-authenticate"]


@pytest.fixture
async def strict_client(issuer: FakeIssuer, tmp_path: Path) -> AsyncIterator[Client]:
    settings = settings_for(issuer.issuer, tmp_path).model_copy(update={"require_dpop": True, "public_url": "https://notes.example.com/api"})
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


async def test_require_dpop_refuses_bearer_tokens(strict_client: Client, issuer: FakeIssuer) -> None:
    response = await strict_client.get("/notes", headers=bearer(issuer.mint(audience=AUDIENCE, scope="notes:read")))

    assert response.status_code == 401
    assert response.json()["error_description"] == (
        "this API accepts only DPoP-bound access tokens: send 'Authorization: DPoP <token>' with a DPoP proof"
    )
    # Only the DPoP scheme is offered.
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert "Bearer" not in response.headers["www-authenticate"]


async def test_require_dpop_checks_htu_against_the_public_url(strict_client: Client, issuer: FakeIssuer, key: DPoPKey) -> None:
    token = bound_token(issuer, key)
    accepted = await strict_client.get("/notes", headers=dpop(token, key.proof("GET", "https://notes.example.com/api/notes", access_token=token)))
    refused = await strict_client.get("/notes", headers=dpop(token, key.proof("GET", NOTES, access_token=token)))
    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_dpop_proof"


async def test_replay_is_refused_by_another_instance_sharing_redis(issuer: FakeIssuer, key: DPoPKey, tmp_path: Path) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    prefix = redis_prefix()
    settings = settings_for(issuer.issuer, tmp_path).model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix})
    other = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/other.db"})
    token = bound_token(issuer, key)
    proof = key.proof("GET", NOTES, access_token=token)
    try:
        async with AsyncTestClient(create_app(settings)) as first, AsyncTestClient(create_app(other)) as second:
            accepted = await first.get("/notes", headers=dpop(token, proof))
            replayed = await second.get("/notes", headers=dpop(token, proof))
    finally:
        delete_redis_prefix(prefix)
    assert accepted.status_code == 200, accepted.text
    assert replayed.status_code == 401
    assert "already used" in replayed.json()["error_description"]
