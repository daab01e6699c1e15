"""Hostile access tokens: the shared verifier, the resource API and `explain` all refuse them.

Each case is what an attacker can put on the wire. Where it matters, the token is
signed with the issuer's real key, so the refusal proves the specific defence
(algorithm allow-list, duplicate members, JWE-only headers...) and not merely a
failed signature. Every case must end as 401 invalid_token from the resource API,
as a rejection naming the same rule from `explain`, and without one request to
the attacker's server.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from shared import AccessTokenVerifier, InvalidToken
from tests.security.attacker import AttackerServer
from tests.security.forgery import AUDIENCE, DROP, Forge, b64, hmac_signature, segment, self_signed_certificate
from tests.support.fake_issuer import FakeIssuer
from token_service.diagnostics.explain import Expectation, explain_token

Build = Callable[[Forge], str]


def _alg_none(alg: str, signature: str) -> Build:
    return lambda f: f.with_signature(f.header(alg=alg), signature)


def _hmac_with_public_key(alg: str, form: str) -> Build:
    def build(f: Forge) -> str:
        header = f.header(alg=alg)
        return f.with_signature(header, hmac_signature(alg, f.public_key_forms()[form], f.signing_input(header)))

    return build


def _stripped(f: Forge) -> str:
    return f.signed().rsplit(".", 1)[0] + "."


def _truncated(f: Forge) -> str:
    token = f.signed()
    return token[: len(token) - 40]


def _nested(f: Forge) -> str:
    inner = f.signed()
    return f.signed(f.header(cty="JWT"), inner.encode())


def _expiring_now(f: Forge) -> str:
    return f.signed(claims=f.claims(exp=int(time.time())))


def _id_token(f: Forge) -> str:
    claims = f.claims(aud="c1", nonce="n", scope=DROP)
    return f.signed(f.header(typ="JWT"), claims)


def _raw_claims(f: Forge, replace: str, by: str) -> str:
    """The default claims as JSON text with one member's text swapped (for values json.dumps cannot write)."""
    text = json.dumps(f.claims())
    assert replace in text
    return f.signed(claims=text.replace(replace, by))


def _exp_text(f: Forge) -> str:
    return json.dumps(f.claims()["exp"])


# Deep enough that Python's JSON parser gives up with a RecursionError, shallow enough that
# the token stays under the 8192-byte cap (so the parser, not the size rule, is what is tested).
_DEPTH = 2000
_NESTED = "[" * _DEPTH + "]" * _DEPTH


def _parser_gives_up() -> bool:
    try:
        json.loads(_NESTED)
    except RecursionError:
        return True
    return False


_DEEP_NESTING = pytest.mark.skipif(not _parser_gives_up(), reason=f"this Python parses JSON nested {_DEPTH} deep")


HEADER_KEYS: list[Any] = [
    pytest.param(lambda f: f.signed(f.header(jwk=f.stranger.as_dict(private=False)), key=f.stranger), "signature", id="jwk-header-under-our-kid"),
    pytest.param(
        lambda f: f.signed(f.header(kid="attacker", jwk=f.stranger.as_dict(private=False)), key=f.stranger), "kid", id="jwk-header-own-kid"
    ),
    pytest.param(lambda f: f.signed(f.header(kid="attacker", jku=f"{f.attacker_url}/jwks"), key=f.stranger), "kid", id="jku"),
    pytest.param(lambda f: f.signed(f.header(kid="attacker", x5u=f"{f.attacker_url}/cert.pem"), key=f.stranger), "kid", id="x5u"),
    pytest.param(lambda f: f.signed(f.header(x5c=[self_signed_certificate(f.stranger)]), key=f.stranger), "signature", id="x5c-under-our-kid"),
    pytest.param(
        lambda f: f.signed(f.header(kid=DROP, jku=f"{f.attacker_url}/jwks", x5u=f"{f.attacker_url}/x5u"), key=f.stranger),
        "kid",
        id="jku-and-x5u-without-kid",
    ),
]

CASES: list[Any] = [
    *(
        pytest.param(_alg_none(alg, signature), rule, id=f"alg-{alg}-{'signed' if signature else 'unsigned'}")
        for alg in ("none", "None", "NONE", "nOnE")
        for signature, rule in (("c2lnbmF0dXJl", "algorithm"), ("", "format"))
    ),
    pytest.param(_stripped, "format", id="signature-stripped"),
    pytest.param(_truncated, "signature", id="signature-truncated"),
    *(
        pytest.param(_hmac_with_public_key(alg, form), "algorithm", id=f"{alg}-keyed-with-public-key-{form}")
        for alg in ("HS256", "HS384", "HS512")
        for form in ("pem", "der", "jwk-json", "empty")
    ),
    pytest.param(lambda f: f.with_signature(f.header(alg="ES256"), b64(bytes(64))), "algorithm", id="es256-psychic-signature"),
    pytest.param(lambda f: f.signed(f.header(alg="XYZ")), "algorithm", id="alg-unknown"),
    pytest.param(lambda f: f.signed(f.header(alg="PS256")), "algorithm", id="alg-not-configured"),
    pytest.param(lambda f: f.signed(f.header(alg="rs256")), "algorithm", id="alg-wrong-case"),
    pytest.param(lambda f: f.signed(f.header(alg=["RS256"])), "algorithm", id="alg-not-a-string"),
    pytest.param(lambda f: f.signed(key=f.stranger), "signature", id="another-rsa-key-with-our-kid"),
    *HEADER_KEYS,
    pytest.param(lambda f: f.signed(f.header(kid="../../etc/passwd")), "kid", id="kid-path-traversal"),
    pytest.param(lambda f: f.signed(f.header(kid="' OR 1=1 --")), "kid", id="kid-sql"),
    pytest.param(lambda f: f.signed(f.header(kid="k" * 4000)), "kid", id="kid-4000-chars"),
    pytest.param(lambda f: f.signed(f.header(kid="k" * 10_000)), "format", id="kid-10000-chars"),
    pytest.param(lambda f: f.signed(f.header(kid=1)), "kid", id="kid-number"),
    pytest.param(lambda f: f.signed(f.header(kid={"$ne": ""})), "kid", id="kid-object"),
    pytest.param(lambda f: f.signed(f.header(kid=None)), "kid", id="kid-null"),
    pytest.param(lambda f: f.signed(f.header(kid=DROP)), "kid", id="kid-missing-with-two-keys-published"),
    pytest.param(lambda f: f.signed(f.header(crit=["exp"], exp=1)), "crit", id="crit-unknown"),
    pytest.param(lambda f: f.signed(f.header(b64=False, crit=["b64"])), "crit", id="b64-false"),
    pytest.param(lambda f: f.signed(f.header(crit=None)), "crit", id="crit-null"),
    pytest.param(lambda f: f.signed(f.header(crit=5)), "crit", id="crit-number"),
    pytest.param(lambda f: f.signed(f.header(crit=[["exp"]], exp=1)), "crit", id="crit-nested-list"),
    pytest.param(lambda f: f.signed(f.header(zip="DEF")), "crit", id="zip-def"),
    pytest.param(_nested, "crit", id="nested-cty-jwt"),
    pytest.param(lambda f: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn", "format", id="jwe-five-segments"),
    pytest.param(
        lambda f: '{"payload":"%s","signatures":[{"protected":"%s","signature":"c2ln"}]}' % (segment(f.claims()), segment(f.header())),
        "format",
        id="json-serialization",
    ),
    pytest.param(lambda f: "e30!." + f.signed().split(".", 1)[1], "format", id="header-not-base64url"),
    pytest.param(lambda f: "a." + f.signed().split(".", 1)[1], "header", id="header-impossible-base64-length"),
    pytest.param(lambda f: f.signed('{"alg": "RS256",'), "header", id="header-malformed-json"),
    pytest.param(lambda f: f.signed(claims='{"iss": '), "payload", id="payload-malformed-json"),
    pytest.param(lambda f: f.signed(["RS256", "at+jwt"]), "header", id="header-array"),
    pytest.param(lambda f: f.signed(claims=[f.claims()]), "payload", id="payload-array"),
    pytest.param(lambda f: f.signed('{"alg": "none", "alg": "RS256", "typ": "at+jwt", "kid": "k1"}'), "header", id="duplicate-alg"),
    pytest.param(lambda f: _raw_claims(f, '"sub": "user-1"', '"sub": "user-1", "sub": "admin"'), "payload", id="duplicate-sub"),
    pytest.param(
        lambda f: f.signed('{"alg": "RS256", "typ": "at+jwt", "kid": "k1", "x": %s}' % _NESTED), "header", id="header-deeply-nested", marks=_DEEP_NESTING
    ),
    pytest.param(lambda f: _raw_claims(f, '"sub": "user-1"', f'"sub": "user-1", "x": {_NESTED}'), "payload", id="payload-deeply-nested", marks=_DEEP_NESTING),
    pytest.param(lambda f: f.signed(claims=f.claims(padding="x" * 1_000_000)), "format", id="one-megabyte"),
    pytest.param(lambda f: f.signed(claims=f.claims(exp=str(int(time.time()) + 300))), "expiry", id="exp-string"),
    pytest.param(lambda f: _raw_claims(f, f'"exp": {_exp_text(f)}', '"exp": 1e400'), "expiry", id="exp-float-overflow"),
    pytest.param(lambda f: f.signed(claims=f.claims(exp=10**400)), "expiry", id="exp-huge-int"),
    pytest.param(lambda f: f.signed(claims=f.claims(exp=True)), "expiry", id="exp-true"),
    pytest.param(lambda f: f.signed(claims=f.claims(aud={"aud": AUDIENCE})), "audience", id="aud-object"),
    pytest.param(lambda f: f.signed(claims=f.claims(iss=f.issuer + "/")), "issuer", id="iss-trailing-slash"),
    pytest.param(_expiring_now, "expiry", id="exp-equal-to-now"),
    pytest.param(_id_token, "typ", id="id-token-of-our-issuer"),
    pytest.param(lambda f: f.signed(claims=f.claims(iss="https://other-issuer.example")), "issuer", id="other-issuer"),
    pytest.param(lambda f: f.signed(claims=f.claims(aud="https://other-api.example")), "audience", id="other-audience"),
]

HTTP_REFUSALS = {
    # Commas cannot occur in a token68, so the bearer parser refuses the header before the
    # verifier sees it: RFC 6750 §3.1 invalid_request, still never a 200 or a 5xx.
    "json-serialization": (400, "invalid_request"),
}


@pytest.mark.parametrize(("build", "rule"), CASES)
async def test_hostile_token_is_refused_everywhere(
    request: pytest.FixtureRequest,
    build: Build,
    rule: str,
    forge: Forge,
    strict_verifier: AccessTokenVerifier,
    resource_api: AsyncTestClient[Any],
    attacker: AttackerServer,
) -> None:
    token = build(forge)

    with pytest.raises(InvalidToken) as caught:
        await strict_verifier.verify(token)
    response = await resource_api.get("/me", headers={"Authorization": f"Bearer {token}"})
    report = await explain_token(token, Expectation(forge.issuer, "test", AUDIENCE, "test", (), 0), None)

    assert caught.value.rule == rule, caught.value.reason
    # A hostile value must not flood logs or the WWW-Authenticate header.
    assert len(caught.value.reason) < 400
    status, error = HTTP_REFUSALS.get(request.node.callspec.id, (401, "invalid_token"))
    assert response.status_code == status, response.text
    assert response.headers["www-authenticate"].startswith(f'Bearer error="{error}"')
    assert not report.evaluation.accepted
    assert report.status_code == 401 and report.first_failure is not None and report.first_failure.rule == rule
    assert attacker.requests == []


async def test_oversized_token_is_refused_naming_its_size(forge: Forge, strict_verifier: AccessTokenVerifier, two_key_issuer: FakeIssuer) -> None:
    token = forge.signed(claims=forge.claims(padding="x" * 1_000_000))

    with pytest.raises(InvalidToken) as caught:
        await strict_verifier.verify(token)

    assert caught.value.rule == "format"
    assert f"the token is {len(token)} bytes, over the 8192-byte limit" == caught.value.reason
    assert two_key_issuer.jwks_requests == 0


async def test_flood_of_unknown_kids_through_the_api_costs_one_jwks_fetch(
    forge: Forge, resource_api: AsyncTestClient[Any], two_key_issuer: FakeIssuer
) -> None:
    good = forge.signed()
    assert (await resource_api.get("/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200
    loaded = two_key_issuer.jwks_requests

    forged = [forge.signed(forge.header(kid=uuid.uuid4().hex), key=forge.stranger) for _ in range(200)]
    responses = await asyncio.gather(*(resource_api.get("/me", headers={"Authorization": f"Bearer {t}"}) for t in forged))

    assert [r.status_code for r in responses] == [401] * 200
    # One refetch for the first unknown kid; the other 199 fall within the cooldown.
    assert two_key_issuer.jwks_requests - loaded <= 1
