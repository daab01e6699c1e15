"""`evaluate` walks the same rules as `verify` and reports every one (for `explain`)."""

from __future__ import annotations

import time

from shared import RULES, AccessTokenVerifier, InsufficientScope
from tests.support.fake_issuer import FakeIssuer


async def test_valid_token_passes_every_rule(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    evaluation = await verifier.evaluate(issuer.mint(scope="notes:read"), required_scopes=["notes:read"])

    assert evaluation.accepted
    assert [r.rule for r in evaluation.results] == [rule.name for rule in RULES]
    assert all(r.outcome == "passed" for r in evaluation.results)
    assert evaluation.claims is not None and evaluation.claims.sub == "user-1"


async def test_every_problem_is_reported_in_one_walk(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    token = issuer.mint(iss="http://localhost:8000", audience="x", lifetime=-3600, scope="")

    evaluation = await verifier.evaluate(token, required_scopes=["notes:write"])

    assert not evaluation.accepted
    assert [r.rule for r in evaluation.failures] == ["issuer", "audience", "expiry", "scope"]
    assert isinstance(evaluation.failures[-1].error, InsufficientScope)
    assert evaluation.unverified_claims is not None and evaluation.unverified_claims["aud"] == "x"


async def test_claims_are_still_shown_when_the_signature_fails(
    verifier: AccessTokenVerifier, issuer: FakeIssuer
) -> None:
    header, payload, signature = issuer.mint().split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    evaluation = await verifier.evaluate(tampered)

    outcomes = {r.rule: r.outcome for r in evaluation.results}
    assert outcomes["signature"] == "failed"
    assert outcomes["issuer"] == "passed"
    assert evaluation.claims is None


async def test_rules_that_need_a_failed_step_are_skipped(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    evaluation = await verifier.evaluate("not-a-jwt")

    outcomes = {r.rule: r.outcome for r in evaluation.results}
    assert outcomes["format"] == "failed"
    assert {outcomes[name] for name in outcomes if name != "format"} == {"skipped"}
    assert issuer.jwks_requests == 0


async def test_evaluate_can_judge_at_another_time(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    token = issuer.mint(lifetime=300)

    later = await verifier.evaluate(token, now=time.time() + 3600)

    assert [r.rule for r in later.failures] == ["expiry"]


async def test_passed_rules_say_what_they_found(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    # verify never words these notes; evaluate builds each one right after its rule passed.
    now = int(time.time())
    token = issuer.mint(scope="notes:read notes:write", nbf=now - 5, iat=now - 10, exp=now + 300)

    evaluation = await verifier.evaluate(token, required_scopes=["notes:read"], now=now)

    assert {r.rule: r.detail for r in evaluation.results} == {
        "format": f"compact JWS, {len(token)} bytes",
        "header": "header names alg, kid, typ",
        "algorithm": "alg RS256 is allowed",
        "typ": "typ at+jwt",
        "crit": "no critical extensions",
        "kid": f"key k1 is in the JWKS of {issuer.issuer}",
        "signature": "signature verified with key k1",
        "payload": "9 claims",
        "issuer": f"issuer {issuer.issuer}",
        "audience": "audience includes http://api.test",
        "expiry": "expires in 300 s",
        "not_before": "nbf has passed",
        "issued_at": "issued 10 s ago",
        "required_claims": "all of iss, sub, aud, exp, iat, jti, client_id present",
        "status": "the token has no status claim (it cannot be revoked before it expires)",
        "scope": "has notes:read",
    }


async def test_notes_for_absent_optional_claims(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    evaluation = await verifier.evaluate(issuer.mint(iat=FakeIssuer.DELETE))

    details = {r.rule: (r.outcome, r.detail) for r in evaluation.results}
    assert details["not_before"] == ("passed", "no nbf claim")
    assert details["issued_at"] == ("passed", "no iat claim")
    assert details["required_claims"] == ("failed", "missing required claim(s): iat")
    assert details["scope"] == ("passed", "no scope required")
