"""`check_proof` (RFC 9449 §4.3) and the replay cache, without HTTP."""

from __future__ import annotations

import json
import time

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from shared.dpop import DPoPKey, InvalidDPoPProof, MemoryReplayCache, ProofPolicy, check_proof, normalize_htu
from tests.support.dpop_proofs import proof_claims

URL = "https://api.example.com/notes"
POLICY = ProofPolicy()


def _check(proof: str) -> str:
    try:
        check_proof([proof], method="GET", uri=URL, policy=POLICY, now=time.time())
    except InvalidDPoPProof as exc:
        return exc.reason
    return "accepted"


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "EdDSA"])
def test_every_announced_algorithm_is_accepted_and_gives_the_key_thumbprint(alg: str) -> None:
    key = DPoPKey.generate(alg)
    checked = check_proof([key.proof("GET", URL)], method="GET", uri=URL, policy=POLICY, now=time.time())
    assert checked.jkt == key.jkt


@pytest.mark.parametrize(
    ("proof_url", "request_url"),
    [
        ("HTTPS://API.example.com:443/notes", URL),
        ("https://api.example.com/notes", "https://api.example.com/notes?page=2#top"),
    ],
)
def test_htu_compares_normalised_and_without_query_or_fragment(proof_url: str, request_url: str) -> None:
    key = DPoPKey.generate()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    proof = jws.serialize_compact(header, json.dumps(proof_claims("GET", proof_url)).encode(), key._key, algorithms=["ES256"])
    check_proof([proof], method="GET", uri=request_url, policy=POLICY, now=time.time())


def test_typ_must_be_dpop_jwt() -> None:
    key = ECKey.generate_key("P-256")
    header = {"typ": "JWT", "alg": "ES256", "jwk": key.as_dict(private=False)}
    proof = jws.serialize_compact(header, json.dumps(proof_claims("GET", URL)).encode(), key, algorithms=["ES256"])
    assert _check(proof) == "the DPoP proof typ is 'JWT', expected 'dpop+jwt'"


def test_small_rsa_keys_are_refused() -> None:
    key = RSAKey.generate_key(1024, auto_kid=False, private=True)
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": key.as_dict(private=False)}
    registry = jws.JWSRegistry(algorithms=["RS256"])
    registry.max_header_length = 4096
    proof = jws.serialize_compact(header, json.dumps(proof_claims("GET", URL)).encode(), key, registry=registry)
    assert _check(proof) == "the DPoP proof's RSA key has 1024 bits; at least 2048 are needed"


def test_a_signature_by_another_key_than_the_header_names_is_refused() -> None:
    signer, named = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": named.as_dict(private=False)}
    proof = jws.serialize_compact(header, json.dumps(proof_claims("GET", URL)).encode(), signer, algorithms=["ES256"])
    assert _check(proof) == "the DPoP proof signature does not match the key in its jwk header"


def test_missing_claims_are_named() -> None:
    key = ECKey.generate_key("P-256")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    proof = jws.serialize_compact(header, json.dumps({"htm": "GET"}).encode(), key, algorithms=["ES256"])
    assert _check(proof) == "the DPoP proof lacks jti, htu, iat (RFC 9449 §4.2)"


def test_garbage_is_refused_not_crashed() -> None:
    assert _check("not-a-jwt") == "the DPoP header is not a JWT (expected three base64url parts separated by dots)"
    assert _check("e30.e30.") == "the DPoP proof typ is None, expected 'dpop+jwt'"
    assert _check("!!.??.--").startswith("the DPoP proof header is not valid base64url JSON")


def test_normalize_htu_refuses_non_http_and_userinfo() -> None:
    assert normalize_htu("ftp://x/y") is None
    assert normalize_htu("https://user:pw@x/y") is None
    assert normalize_htu("https://X.example:8443") == "https://x.example:8443/"


async def test_replay_cache_remembers_within_the_window_and_stays_bounded() -> None:
    now = [0.0]
    cache = MemoryReplayCache(max_entries=3, clock=lambda: now[0])
    assert await cache.first_use("a", 10)
    assert not await cache.first_use("a", 10)
    for name in "bcd":
        assert await cache.first_use(name, 10)
    assert len(cache) == 3  # the oldest went first
    now[0] = 11
    assert await cache.first_use("b", 10)  # expired: usable again, and the expired rest are gone
    assert len(cache) == 1


def test_extra_jwk_members_are_ignored_and_the_thumbprint_uses_the_key_only() -> None:
    key = ECKey.generate_key("P-256")
    jwk = {**key.as_dict(private=False), "ext": True, "key_ops": ["verify"], "kid": "browser-key"}
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    proof = jws.serialize_compact(header, json.dumps(proof_claims("GET", URL)).encode(), key, algorithms=["ES256"])
    checked = check_proof([proof], method="GET", uri=URL, policy=POLICY, now=time.time())
    assert checked.jkt == key.thumbprint()
