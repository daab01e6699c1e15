"""Each verification rule refuses its kind of bad token, with a reason a person can act on."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import RSAKey
from joserfc.registry import HeaderParameter

from shared import AccessTokenVerifier, InsufficientScope, InvalidToken, JwksCache, TokenRejected
from tests.shared.conftest import AUDIENCE
from tests.support.fake_issuer import FakeIssuer, b64, default_claims, mint_jwt


def unsigned_parts(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


async def rejection(verifier: AccessTokenVerifier, token: str, **kwargs: Any) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        await verifier.verify(token, **kwargs)
    return caught.value


async def test_valid_token_is_accepted_with_its_claims(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    token = issuer.mint(sub="alice", scope="notes:read notes:write", email="alice@example.com")

    claims = await verifier.verify(token, required_scopes=["notes:write"])

    assert claims.sub == "alice"
    assert claims.client_id == "test-client"
    assert claims.scopes == frozenset({"notes:read", "notes:write"})
    assert claims.aud == (AUDIENCE,)
    assert claims.iss == issuer.issuer
    assert claims.email == "alice@example.com"
    assert claims.raw["email"] == "alice@example.com"


async def test_application_at_jwt_typ_is_accepted_case_insensitively(
    verifier: AccessTokenVerifier, issuer: FakeIssuer
) -> None:
    token = issuer.mint(header={"typ": "Application/AT+JWT"})
    assert (await verifier.verify(token)).sub == "user-1"


async def test_audience_list_containing_ours_is_accepted(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    claims = await verifier.verify(issuer.mint(audience=["http://other", AUDIENCE]))
    assert claims.aud == ("http://other", AUDIENCE)


async def test_expired_token_says_how_long_ago(jwks: JwksCache, issuer: FakeIssuer) -> None:
    now = 1_900_000_000
    at_fixed_time = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE, clock=lambda: now)

    exc = await rejection(at_fixed_time, issuer.mint(exp=now - 100, iat=now - 400))

    assert isinstance(exc, InvalidToken)
    assert exc.rule == "expiry"
    assert exc.reason == "token expired 100 s ago (exp 2030-03-17T17:45:00Z, leeway 30 s)"


async def test_expiry_within_leeway_is_accepted(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    assert (await verifier.verify(issuer.mint(lifetime=-10))).sub == "user-1"


async def test_exp_equal_to_now_is_expired_without_leeway(jwks: JwksCache, issuer: FakeIssuer) -> None:
    now = 1_900_000_000.0
    strict = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE, leeway=0, clock=lambda: now)
    token = issuer.mint(exp=int(now), iat=int(now) - 60)

    exc = await rejection(strict, token)

    assert exc.rule == "expiry"
    assert exc.reason.startswith("token expired 0 s ago")
    assert (await strict.verify(issuer.mint(exp=int(now) + 1, iat=int(now) - 60))).sub == "user-1"


async def test_not_yet_valid_token_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(nbf=int(time.time()) + 600))

    assert exc.rule == "not_before"
    assert "is not valid until" in exc.reason
    assert "leeway 30 s" in exc.reason


async def test_token_issued_in_the_future_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(iat=int(time.time()) + 600))

    assert exc.rule == "issued_at"
    assert "in the future" in exc.reason


async def test_wrong_issuer_names_both(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(iss="http://localhost:8000"))

    assert exc.rule == "issuer"
    assert exc.reason == f"issuer was 'http://localhost:8000', expected '{issuer.issuer}'"


async def test_issuer_with_trailing_slash_is_rejected_with_a_hint(
    verifier: AccessTokenVerifier, issuer: FakeIssuer
) -> None:
    exc = await rejection(verifier, issuer.mint(iss=issuer.issuer + "/"))

    assert exc.rule == "issuer"
    assert "differ only by a trailing slash" in exc.reason


async def test_wrong_audience_names_both(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(audience="x"))

    assert exc.rule == "audience"
    assert exc.reason == f"audience was ['x'], expected '{AUDIENCE}'"


async def test_id_token_typ_is_rejected_with_a_hint(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(header={"typ": "JWT"}))

    assert exc.rule == "typ"
    assert exc.reason == "typ is 'JWT', expected 'at+jwt' (is this an ID token? send the access token)"


async def test_missing_typ_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(header={"typ": FakeIssuer.DELETE}))
    assert exc.rule == "typ"


async def test_alg_none_is_rejected_by_configuration(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    token = unsigned_parts({"alg": "none", "typ": "at+jwt", "kid": "k1"}, default_claims(issuer, AUDIENCE)) + ".c2ln"

    exc = await rejection(verifier, token)

    assert exc.rule == "algorithm"
    assert exc.reason == "alg 'none' is not allowed (allowed: RS256)"


async def test_unsigned_token_with_empty_signature_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    token = unsigned_parts({"alg": "none", "typ": "at+jwt"}, default_claims(issuer, AUDIENCE)) + "."

    exc = await rejection(verifier, token)

    assert exc.rule == "format"
    assert "signature segment is empty" in exc.reason


async def test_hs256_signed_with_the_public_key_is_rejected(
    verifier: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey
) -> None:
    # The classic key-confusion attack: HMAC keyed with the issuer's public key.
    public_pem = key1.as_pem(private=False)
    signing_input = unsigned_parts({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, default_claims(issuer, AUDIENCE))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    exc = await rejection(verifier, signing_input + "." + b64(signature))

    assert exc.rule == "algorithm"
    assert exc.reason.startswith("alg 'HS256' is not allowed (allowed: RS256)")


async def test_unknown_kid_names_the_kid_and_issuer(
    verifier: AccessTokenVerifier, issuer: FakeIssuer, key2: RSAKey
) -> None:
    exc = await rejection(verifier, issuer.mint(key=key2))

    assert exc.rule == "kid"
    assert exc.reason == f"kid 'k2' is not in the JWKS of {issuer.issuer} (known kids: k1)"


async def test_key_from_another_issuer_under_a_known_kid_fails_the_signature(
    verifier: AccessTokenVerifier, issuer: FakeIssuer, key2: RSAKey
) -> None:
    exc = await rejection(verifier, issuer.mint(key=key2, header={"kid": "k1"}))

    assert exc.rule == "signature"
    assert "does not match key 'k1'" in exc.reason


async def test_tampered_payload_fails_the_signature(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    header, _, signature = issuer.mint(scope="notes:read").split(".")
    forged = dict(default_claims(issuer, AUDIENCE), scope="notes:read notes:write admin")
    token = f"{header}.{b64(json.dumps(forged).encode())}.{signature}"

    exc = await rejection(verifier, token)

    assert exc.rule == "signature"


async def test_oversized_token_is_rejected_before_parsing(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(padding="x" * 9000))

    assert exc.rule == "format"
    assert "over the 8192-byte limit" in exc.reason
    assert issuer.jwks_requests == 0


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("not-a-jwt", "1 dot-separated segment(s), expected 3"),
        ("a.b.c.d.e", "encrypted JWT (JWE)"),
        ("a.b!.c", "payload segment is not base64url"),
        ("ä.b.c", "non-ASCII"),
        ("abc.def.ghi", "could not be decoded"),
    ],
)
async def test_malformed_tokens_are_rejected_as_format_errors(
    verifier: AccessTokenVerifier, token: str, expected: str
) -> None:
    exc = await rejection(verifier, token)

    assert isinstance(exc, InvalidToken)
    assert exc.rule in {"format", "header"}
    assert expected in exc.reason


async def test_missing_required_claim_is_named(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(client_id=FakeIssuer.DELETE, jti=FakeIssuer.DELETE))

    assert exc.rule == "required_claims"
    assert exc.reason == "missing required claim(s): jti, client_id"


async def test_extra_required_claims_are_enforced(jwks: JwksCache, issuer: FakeIssuer) -> None:
    strict = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE, required_claims=["auth_time"])

    exc = await rejection(strict, issuer.mint())

    assert exc.reason == "missing required claim(s): auth_time"


async def test_exp_as_string_is_a_type_error(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(exp=str(int(time.time()) + 300)))

    assert exc.rule == "expiry"
    assert exc.reason.startswith("exp must be a number of seconds since 1970 (NumericDate), got str '")


async def test_exp_as_bool_is_a_type_error(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(exp=True))
    assert exc.reason.startswith("exp must be a number of seconds since 1970 (NumericDate), got bool True")


async def test_missing_exp_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(exp=FakeIssuer.DELETE))
    assert exc.rule == "expiry"


async def test_non_string_sub_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(sub=42))

    assert exc.rule == "required_claims"
    assert exc.reason == "sub must be a non-empty string, got 42"


async def test_crit_header_is_rejected(verifier: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey) -> None:
    # Signed by a registry that understands the extension, as a real issuer using it would.
    registry = jws.JWSRegistry(header_registry={"exp": HeaderParameter("Expiry", "int")}, algorithms=["RS256"])
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k1", "crit": ["exp"], "exp": 1}
    token = jws.serialize_compact(header, json.dumps(default_claims(issuer, AUDIENCE)), key1, registry=registry)

    exc = await rejection(verifier, token)

    assert exc.rule == "crit"
    assert exc.reason == "the header lists critical extensions ['exp'], which this verifier does not support"


async def test_header_read_once_is_what_joserfc_reads(verifier: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey) -> None:
    # The usual header is parsed only by the strict decoder; it must give joserfc's own dict.
    extra = {"x5t": "abc", "nested": {"a": [1, 2.5, None, True, -0.0, 1e300]}, "text": "\u00e9\u2028\"\\"}
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k1", **extra}
    registry = jws.JWSRegistry(algorithms=["RS256"], strict_check_header=False)
    token = jws.serialize_compact(header, json.dumps(default_claims(issuer, AUDIENCE)), key1, registry=registry)

    evaluation = await verifier.evaluate(token)

    assert evaluation.accepted
    assert evaluation.header == jws.extract_compact(token.encode(), registry=registry).protected == header


async def test_b64_true_header_is_accepted(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    # RFC 7797 b64 true is the default encoding; such a header takes joserfc's general path.
    assert (await verifier.verify(issuer.mint(header={"b64": True}))).sub == "user-1"


async def test_embedded_jwk_header_is_never_used_to_verify(
    verifier: AccessTokenVerifier, issuer: FakeIssuer, key2: RSAKey
) -> None:
    # An attacker signs with their own key and ships it in the header: it must not be trusted.
    token = issuer.mint(key=key2, header={"kid": "k1", "jwk": key2.as_dict(private=False)})

    exc = await rejection(verifier, token)

    assert exc.rule == "signature"


async def test_missing_scope_raises_insufficient_scope(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    exc = await rejection(verifier, issuer.mint(scope="notes:read"), required_scopes=["notes:write"])

    assert isinstance(exc, InsufficientScope)
    assert exc.status_code == 403
    assert exc.scope == "notes:write"
    assert exc.reason == "the token lacks scope 'notes:write' (it has: notes:read)"


async def test_reasons_never_contain_the_token(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    token = issuer.mint(lifetime=-100)
    exc = await rejection(verifier, token)
    for segment in token.split("."):
        assert segment not in exc.reason


def test_symmetric_algorithms_cannot_be_configured(jwks: JwksCache, issuer: FakeIssuer) -> None:
    with pytest.raises(ValueError, match="RSA signature algorithms"):
        AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE, algorithms=["HS256"])


def test_verifier_and_cache_must_trust_the_same_issuer(jwks: JwksCache) -> None:
    with pytest.raises(ValueError, match="verifier trusts"):
        AccessTokenVerifier(jwks, issuer="http://elsewhere", audience=AUDIENCE)


async def test_mint_jwt_helper_signs_what_it_is_given(key1: RSAKey, verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    # Guards the helper itself: a token built by hand from the defaults must pass.
    token = mint_jwt({"alg": "RS256", "typ": "at+jwt", "kid": "k1"}, default_claims(issuer, AUDIENCE), key1)
    assert (await verifier.verify(token)).jti == "j1"
