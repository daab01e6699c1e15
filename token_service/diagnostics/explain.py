"""`token-service explain TOKEN`: would an API accept this token, and exactly why not.

The verdict comes from `AccessTokenVerifier.evaluate`, the same rules the resource
API enforces, so `explain` and the API can never disagree. Around it, this module
finds the issuer's keys by discovery, reads the header and claims without trusting
them (to show them and to recognise ID tokens, session cookies and HMAC tokens), and
turns the failures into fixes. The signature and the whole token are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from shared.dpop.resource import bound_key_of
from shared.errors import KeySetUnavailable
from shared.jwks import JwksCache, JwksStatus
from shared.status_list import StatusListCache
from shared.verifier import AccessTokenVerifier, Evaluation, RuleResult
from token_service.diagnostics.hints import Context, classify, fix_hints
from token_service.diagnostics.key_state import local_key_state
from token_service.diagnostics.unverified import UnverifiedToken, read_unverified
from token_service.settings import TokenServiceSettings
from token_service.usage import UsageError

NO_AUDIENCE = "(no --audience given)"


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the API is taken to accept, and where each value came from (shown to the reader)."""

    issuer: str
    issuer_source: str
    audience: str
    audience_source: str
    scopes: tuple[str, ...]
    leeway: float


@dataclass(frozen=True, slots=True)
class ExplainReport:
    kind: str
    token_bytes: int
    unverified: UnverifiedToken
    expectation: Expectation
    evaluation: Evaluation
    jwks: JwksStatus
    hints: list[str] = field(default_factory=list)

    @property
    def first_failure(self) -> RuleResult | None:
        failures = self.evaluation.failures
        return failures[0] if failures else None

    @property
    def status_code(self) -> int:
        """What the API would answer: 200, 401 invalid_token, 403 insufficient_scope, 503 keys unavailable."""
        first = self.first_failure
        if first is None:
            return 200 if self.evaluation.accepted else 401
        return first.error.status_code if first.error is not None else 401

    @property
    def verdict(self) -> str:
        if self.evaluation.accepted:
            return "accepted: the API would let this token through"
        first = self.first_failure
        error = first.error if first is not None else None
        if isinstance(error, KeySetUnavailable):
            return "not checkable: the API would answer 503 (the issuer's keys cannot be loaded)"
        code = error.error if error is not None else "invalid_token"
        return f"rejected: the API would answer {self.status_code} {code}"


def expectation_for(token: UnverifiedToken, args: argparse.Namespace, settings: TokenServiceSettings) -> Expectation:
    claims = token.claims or {}
    iss = claims.get("iss")
    if args.issuer:
        issuer, issuer_source = args.issuer, "--issuer"
    elif isinstance(iss, str) and iss.startswith(("https://", "http://")):
        issuer, issuer_source = iss, "the token's iss (unverified; pass --issuer with the API's RESOURCE_API_ISSUER to check it)"
    else:
        issuer, issuer_source = settings.issuer, "TOKEN_SERVICE_ISSUER (the token names no usable iss)"
    aud = claims.get("aud")
    first_aud = aud if isinstance(aud, str) else aud[0] if isinstance(aud, list) and aud and isinstance(aud[0], str) else None
    if args.audience:
        audience, audience_source = args.audience, "--audience"
    elif first_aud:
        audience, audience_source = first_aud, "the token's aud (pass --audience with the API's RESOURCE_API_AUDIENCE to check it)"
    else:
        audience, audience_source = NO_AUDIENCE, "nothing: pass --audience"
    scopes = tuple(dict.fromkeys(s for value in args.scope for s in value.split()))
    return Expectation(issuer, issuer_source, audience, audience_source, scopes, float(settings.leeway))


async def explain_token(
    token: str, expectation: Expectation, settings: TokenServiceSettings | None, now: float | None = None
) -> ExplainReport:
    """Evaluate `token` as an API expecting `expectation` would; `settings` (when given) let a kid
    missing from the JWKS be looked up in our own key lifecycle."""
    moment = time.time() if now is None else now
    unverified = read_unverified(token)
    jwks = JwksCache(expectation.issuer, unknown_kid_cooldown=0, error_backoff=0)
    # The status line: the token's bit in the issuer's status list, fetched as an API would.
    status_lists = StatusListCache(jwks, max_stale=0, error_backoff=0, leeway=expectation.leeway)
    try:
        verifier = AccessTokenVerifier(
            jwks, issuer=expectation.issuer, audience=expectation.audience, leeway=expectation.leeway, status_lists=status_lists
        )
        evaluation = await verifier.evaluate(token, required_scopes=expectation.scopes, now=moment)
        status = jwks.status()
    finally:
        await status_lists.aclose()
        await jwks.aclose()
    key_state = None
    kid = (unverified.header or {}).get("kid")
    kid_failure = next((r for r in evaluation.failures if r.rule == "kid" and not isinstance(r.error, KeySetUnavailable)), None)
    iss = (unverified.claims or {}).get("iss")
    if settings is not None and kid_failure is not None and isinstance(kid, str) and settings.issuer in (expectation.issuer, iss):
        # Only our own database can say what happened to one of our kids.
        key_state = await local_key_state(settings, kid, expectation.issuer, moment)
    context = Context(expectation.issuer, expectation.audience, expectation.leeway, moment, key_state)
    return ExplainReport(
        kind=classify(unverified),
        token_bytes=len(token.encode()),
        unverified=unverified,
        expectation=expectation,
        evaluation=evaluation,
        jwks=status,
        hints=fix_hints(unverified, evaluation, context),
    )


def binding_of(report: ExplainReport) -> tuple[str | None, str]:
    """The DPoP key the token is bound to (RFC 9449 §6.1), and what a caller must send with it."""
    jkt = bound_key_of(report.unverified.claims or {})
    if jkt is None:
        return None, (
            "none (a bearer token): send 'Authorization: Bearer <token>'; "
            "an API with RESOURCE_API_REQUIRE_DPOP=true refuses it"
        )
    return jkt, (
        f"DPoP-bound to key {jkt} (cnf.jkt): send 'Authorization: DPoP <token>' plus a DPoP header with a fresh proof "
        "signed by that key for each request (htm, htu, ath of this token); sent as Bearer it is refused"
    )


def _json_line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def render_text(report: ExplainReport) -> str:
    e = report.expectation
    lines = [
        f"Token:    {report.kind}, {report.token_bytes} bytes (signature not shown)",
        f"Header:   {_json_line(report.unverified.header) if report.unverified.header is not None else '(none readable)'}",
        f"Claims:   {_json_line(report.unverified.claims) if report.unverified.claims is not None else '(none readable)'}  [unverified]",
        f"Issuer:   {e.issuer}  (from {e.issuer_source})",
        f"Audience: {e.audience}  (from {e.audience_source})",
        f"Scopes:   {' '.join(e.scopes) or '(none required; pass --scope to check an endpoint)'}",
        f"Leeway:   {e.leeway:g} s",
        f"Binding:  {binding_of(report)[1]}",
    ]
    if report.jwks.jwks_uri is not None or report.jwks.last_error is not None:
        kids = ", ".join(report.jwks.key_ids) or "none"
        where = report.jwks.jwks_uri or "(not found by discovery)"
        lines.append(f"JWKS:     {where}: kids {kids}" + (f" (error: {report.jwks.last_error})" if report.jwks.last_error else ""))
    lines += ["", "Rules, in the order the API applies them:"]
    width = max(len(r.rule) for r in report.evaluation.results)
    for r in report.evaluation.results:
        lines.append(f"  {r.outcome:<8} {r.rule:<{width}}  {r.detail}")
    lines += ["", f"Verdict: {report.verdict}"]
    first = report.first_failure
    if first is not None:
        lines.append(f"First failing rule: {first.rule} ({first.title}): {first.detail}")
    for index, hint in enumerate(report.hints):
        lines.append(f"{'Fix' if index == 0 else 'Also'}: {hint}")
    return "\n".join(lines)


def render_json(report: ExplainReport) -> str:
    e = report.expectation
    first = report.first_failure
    document = {
        "accepted": report.evaluation.accepted,
        "verdict": report.verdict,
        "status_code": report.status_code,
        "kind": report.kind,
        "header": report.unverified.header,
        "claims": report.unverified.claims,
        "issuer": {"value": e.issuer, "source": e.issuer_source},
        "audience": {"value": e.audience, "source": e.audience_source},
        "required_scopes": list(e.scopes),
        "leeway": e.leeway,
        "jwks": {"uri": report.jwks.jwks_uri, "kids": list(report.jwks.key_ids), "error": report.jwks.last_error},
        "rules": [{"rule": r.rule, "title": r.title, "outcome": r.outcome, "detail": r.detail} for r in report.evaluation.results],
        "first_failure": None if first is None else {"rule": first.rule, "detail": first.detail},
        "hints": report.hints,
        "binding": dict(zip(("dpop_jkt", "caller_sends"), binding_of(report), strict=True)),
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def read_token_argument(value: str) -> str:
    token = sys.stdin.read() if value == "-" else value
    token = token.strip()
    if not token:
        raise UsageError("no token given: pass it as the argument, or `-` and the token on stdin")
    return token


def cmd_explain(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    token = read_token_argument(args.token)
    expectation = expectation_for(read_unverified(token), args, settings)
    report = asyncio.run(explain_token(token, expectation, settings))
    print(render_json(report) if args.json else render_text(report))
    return 0 if report.evaluation.accepted else 1


def register(sub: Any) -> None:
    """Adds `explain` to the `token-service` sub-commands."""
    help_text = "say in plain words whether an API would accept an access token, and exactly why not"
    parser = sub.add_parser("explain", help=help_text, description=help_text)
    parser.set_defaults(handler=cmd_explain)
    parser.add_argument("token", metavar="TOKEN", help="the access token, or - to read it from stdin")
    parser.add_argument("--audience", help="the API's audience (RESOURCE_API_AUDIENCE); default: the token's own aud")
    parser.add_argument("--issuer", help="the issuer the API trusts (RESOURCE_API_ISSUER); default: the token's iss")
    parser.add_argument("--scope", action="append", default=[], help="a scope the endpoint requires (repeatable)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
