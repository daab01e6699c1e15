"""The token signer's JWS is what any JOSE library expects, for every key the snapshot names."""

from __future__ import annotations

import pytest
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import RSAKey

from token_service.errors import TemporarilyUnavailable
from token_service.keys.keyring import KeySnapshot
from token_service.tokens.signer import TokenSigner


def snapshot(key: RSAKey | None, kid: str | None) -> KeySnapshot:
    return KeySnapshot(keys=(), signer_kid=kid, signer=key, jwks_bytes=b"{}", etag='"x"', loaded_at=0.0)


def test_tokens_verify_with_joserfc_and_carry_exactly_the_protected_header() -> None:
    key = RSAKey.generate_key(2048)
    signer = TokenSigner(lambda: snapshot(key, "kid-1"))
    claims = {"iss": "https://id.example", "sub": "u1", "name": "Zoë Ångström ✓", "aud": ["a", "b"], "exp": 2000000000}
    token, kid = signer.sign(claims, "at+jwt")
    decoded = jwt.decode(token, key, algorithms=["RS256"])
    assert kid == "kid-1"
    assert decoded.header == {"alg": "RS256", "typ": "at+jwt", "kid": "kid-1"}
    assert decoded.claims == claims
    # Standard compact form: three base64url segments without padding.
    assert token.count(".") == 2 and "=" not in token
    assert jws.deserialize_compact(token, key, algorithms=["RS256"]).protected["typ"] == "at+jwt"


def test_rotation_and_typ_change_the_header_of_the_next_token() -> None:
    first, second = RSAKey.generate_key(2048), RSAKey.generate_key(2048)
    current = {"snapshot": snapshot(first, "old")}
    signer = TokenSigner(lambda: current["snapshot"])
    old, _ = signer.sign({"sub": "a"}, "at+jwt")
    current["snapshot"] = snapshot(second, "new")
    new, kid = signer.sign({"sub": "a"}, "JWT")
    assert jwt.decode(old, first).header["kid"] == "old"
    assert kid == "new"
    assert jwt.decode(new, second).header == {"alg": "RS256", "typ": "JWT", "kid": "new"}
    with pytest.raises(BadSignatureError):
        jwt.decode(new, first)


def test_no_active_key_is_a_temporary_condition_not_a_crash() -> None:
    signer = TokenSigner(lambda: snapshot(None, None))
    with pytest.raises(TemporarilyUnavailable):
        signer.sign({"sub": "a"}, "at+jwt")


def test_the_fast_path_gives_what_joserfc_jwt_encode_gives() -> None:
    """Parity with the library path it replaces (benchmarks/fast_paths.py measures the gain)."""
    key = RSAKey.generate_key(2048)
    signer = TokenSigner(lambda: snapshot(key, "kid-1"))
    for claims in (
        {"iss": "https://id.example", "sub": "u1", "aud": "https://api.example", "exp": 2000000000, "scope": "a b", "cnf": {"jkt": "x"}},
        {"sub": "u2", "name": "Zoë Ångström ✓ \U0001f600", "email_verified": True, "groups": [], "amr": None},
    ):
        ours, _ = signer.sign(claims, "at+jwt")
        library = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "kid-1"}, claims, key, algorithms=["RS256"])
        ours_decoded, library_decoded = jwt.decode(ours, key, algorithms=["RS256"]), jwt.decode(library, key, algorithms=["RS256"])
        assert ours_decoded.header == library_decoded.header
        assert ours_decoded.claims == library_decoded.claims == claims
    # ASCII claims: the payload segment is byte for byte joserfc's (compact JSON, same order).
    ascii_claims = {"iss": "https://id.example", "sub": "u1", "exp": 2000000000}
    ours, _ = signer.sign(ascii_claims, "JWT")
    library = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": "kid-1"}, ascii_claims, key, algorithms=["RS256"])
    assert ours.split(".")[1] == library.split(".")[1]
