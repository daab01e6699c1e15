"""DPoP at the token endpoint (RFC 9449 §5): bound tokens, refused proofs with their reason, nonces — over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jws

from shared.dpop import DPoPKey
from tests.support.dpop_proofs import forged_proof, proof_claims
from tests.support.token_service import RunningTokenService, decode_segment, issuer_settings, running_token_service

AUDIENCE = "http://127.0.0.1:8001"
SECRET = "s" * 40


@pytest.fixture
def service(make_settings: Any) -> Iterator[RunningTokenService]:
    clients = [
        {"client_id": "worker", "client_secret": SECRET, "scope": "notes:read", "audience": AUDIENCE},
        {"client_id": "strict-worker", "client_secret": SECRET, "scope": "notes:read", "audience": AUDIENCE, "dpop_bound_access_tokens": True},
    ]
    with running_token_service(issuer_settings(make_settings, clients=clients)) as running:
        yield running


def token_request(service: RunningTokenService, proofs: list[str], client_id: str = "worker") -> httpx.Response:
    headers = [("DPoP", proof) for proof in proofs]
    return httpx.post(
        f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, SECRET), headers=headers
    )


def test_client_credentials_with_a_proof_gets_a_bound_dpop_token(service: RunningTokenService) -> None:
    key = DPoPKey.generate("ES256")
    response = token_request(service, [key.proof("POST", f"{service.url}/token")])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert decode_segment(body["access_token"], 1)["cnf"] == {"jkt": key.jkt}

    introspected = httpx.post(f"{service.url}/introspect", data={"token": body["access_token"]}, auth=("worker", SECRET)).json()
    assert introspected["active"] is True
    assert introspected["cnf"] == {"jkt": key.jkt} and introspected["token_type"] == "DPoP"


def test_without_a_proof_the_token_stays_a_bearer_token(service: RunningTokenService) -> None:
    body = token_request(service, []).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in decode_segment(body["access_token"], 1)


def test_bad_proofs_are_refused_with_their_reason(service: RunningTokenService) -> None:
    key = DPoPKey.generate("ES256")
    token_url = f"{service.url}/token"
    replayed = key.proof("POST", token_url)
    assert token_request(service, [replayed]).status_code == 200
    cases = {
        "the DPoP proof is for URL 'http://localhost/token'": [key.proof("POST", "http://localhost/token")],
        "the DPoP proof is for method 'GET', but this request is POST": [key.proof("GET", token_url)],
        "more than one DPoP proof": [key.proof("POST", token_url), key.proof("POST", token_url)],
        "the DPoP proof was already used": [replayed],
        "alg 'none' is not accepted": [forged_proof("alg_none", "POST", token_url)],
        "alg 'HS256' is not accepted": [forged_proof("hs256", "POST", token_url)],
        "the DPoP proof jwk holds private key members (d)": [forged_proof("private_jwk", "POST", token_url)],
        "s in the future; check the client's clock": [key.proof("POST", token_url, iat=time.time() + 600)],
    }
    for reason, proofs in cases.items():
        response = token_request(service, proofs)
        assert response.status_code == 400, (reason, response.text)
        assert response.json()["error"] == "invalid_dpop_proof"
        assert reason in response.json()["error_description"], (reason, response.json())


def test_query_and_fragment_of_htu_are_ignored(service: RunningTokenService) -> None:
    key = DPoPKey.generate("PS256")
    # The builder would strip them; sign one that keeps them, as a sloppy client might.
    claims = proof_claims("POST", f"{service.url}/token?x=1#frag")
    header = {"typ": "dpop+jwt", "alg": "PS256", "jwk": key.public_jwk}
    registry = jws.JWSRegistry(algorithms=["PS256"])
    registry.max_header_length = 4096
    proof = jws.serialize_compact(header, json.dumps(claims).encode(), key._key, registry=registry)
    assert token_request(service, [proof]).status_code == 200


def test_a_client_registered_with_dpop_bound_access_tokens_must_send_a_proof(service: RunningTokenService) -> None:
    refused = token_request(service, [], client_id="strict-worker")
    accepted = token_request(service, [DPoPKey.generate().proof("POST", f"{service.url}/token")], client_id="strict-worker")

    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "client 'strict-worker' is registered with dpop_bound_access_tokens: every token request needs a DPoP proof (RFC 9449 §5.2)",
    }
    assert accepted.json()["token_type"] == "DPoP"


def test_discovery_names_the_proof_algorithms(service: RunningTokenService) -> None:
    document = httpx.get(f"{service.url}/.well-known/oauth-authorization-server").json()
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "RS256", "PS256", "EdDSA"]


def test_server_nonces_when_turned_on(make_settings: Any) -> None:
    clients = [{"client_id": "worker", "client_secret": SECRET, "scope": "notes:read", "audience": AUDIENCE}]
    with running_token_service(issuer_settings(make_settings, clients=clients, dpop_nonce=True)) as service:
        key = DPoPKey.generate()
        first = token_request(service, [key.proof("POST", f"{service.url}/token")])
        nonce = first.headers.get("dpop-nonce")
        forged = token_request(service, [key.proof("POST", f"{service.url}/token", nonce="made-up")])
        retried = token_request(service, [key.proof("POST", f"{service.url}/token", nonce=nonce)])

    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    assert nonce
    assert forged.status_code == 400 and "did not issue" in forged.json()["error_description"]
    assert retried.status_code == 200, retried.text
    assert retried.json()["token_type"] == "DPoP"
