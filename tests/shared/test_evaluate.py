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
