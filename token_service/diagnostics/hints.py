"""What to do about a rejected token: one fix per cause, in the order a person should act.

The verdict is the verifier's (`Evaluation`); these hints only translate its failed
rules, and what the unverified header and claims reveal about the string that was
sent, into the classic causes: an ID token or a frontend-signed HS256 token sent
instead of an access token, an issuer spelled differently, a token for another API,
an expired token, skewed clocks, a key that left the JWKS, a missing scope (403).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import InsufficientScope, KeySetUnavailable
from shared.rules import ACCESS_TOKEN_TYPES, is_numeric_date
from shared.verifier import Evaluation, RuleResult
from token_service.diagnostics.durations import human_seconds, utc_text
from token_service.diagnostics.spelling import spelling_difference
from token_service.diagnostics.unverified import UnverifiedToken


@dataclass(frozen=True, slots=True)
class Context:
    """What the API is configured to accept, and what we could learn about the kid."""

    issuer: str
    audience: str
    leeway: float
    now: float
    key_state: str | None = None
    """A sentence on where the token's kid stands in our key lifecycle, when we could tell."""


def classify(token: UnverifiedToken) -> str:
    """What the string is, in words, before any rule is applied."""
    if token.shape == "jwe":
        return "an encrypted token (JWE), not a signed access token"
    if token.shape == "other" or token.header is None:
        return "not a JWT"
    alg = token.alg or ""
    if alg.lower() == "none":
        return "an unsigned JWT (alg none)"
    if alg.upper().startswith("HS"):
        return f"a JWT signed with a shared secret ({alg})"
    if is_id_token(token):
        return "an OpenID Connect ID token"
    return "a signed JWT"


def is_id_token(token: UnverifiedToken) -> bool:
    header, claims = token.header or {}, token.claims or {}
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES:
        return False
    aud, azp = claims.get("aud"), claims.get("azp")
    # OIDC Core §2: an ID token is addressed to the client (aud == client id, azp) and
    # carries nonce / at_hash for the client's own checks; access tokens have client_id.
    return "nonce" in claims or "at_hash" in claims or (azp is not None and aud in (azp, [azp]))


def _shape_hints(token: UnverifiedToken, issuer: str) -> list[str]:
    hints: list[str] = []
    if token.bearer_prefix:
        hints.append("remove the 'Bearer ' prefix: pass only the token that follows it in the Authorization header")
    get_one = f"request an access token from {issuer} (authorization code or client_credentials) and send that"
    if token.shape == "jwe":
        header = token.header or {}
        algs = ", ".join(f"{k} {header[k]}" for k in ("alg", "enc") if isinstance(header.get(k), str))
        hints.append(
            f"this is an encrypted session token (JWE, 5 segments{', ' + algs if algs else ''}), such as the "
            "NextAuth/Auth.js session cookie: it keeps the frontend's login session and is not an access token; " + get_one
        )
    elif token.shape == "other" or token.header is None:
        hints.append(
            f"this is not a JWT ({token.segments} dot-separated segment(s), expected 3 with a JSON header): an opaque "
            "string such as a refresh token, an authorization code or a session id; send the access_token field of the token response"
        )
    elif (token.alg or "").lower() == "none":
        hints.append(f"the token is unsigned (alg none): anyone could have written it and no API may accept it; {get_one}")
    elif (token.alg or "").upper().startswith("HS"):
        hints.append(
            f"the token is signed with a shared secret ({token.alg}), as when a frontend signs its own JWT with "
            "NEXTAUTH_SECRET / AUTH_SECRET: the API checks RS256 signatures against the token service's published "
            f"keys, so no shared secret can ever match; stop minting tokens in the frontend and {get_one}"
        )
    elif is_id_token(token):
        claims = token.claims or {}
        signs = [f"typ {(token.header or {}).get('typ', 'missing')}"]
        signs += [f"has {name}" for name in ("nonce", "at_hash") if name in claims]
        if "aud" in claims:
            signs.append(f"aud is the client id {claims['aud']!r}")
        hints.append(
            f"this is an ID token ({', '.join(signs)}): it tells the client who signed in and is not meant for APIs; "
            "send the access token (the access_token field of the same token response, typ at+jwt)"
        )
    return hints


def _issuer_hint(claims: Mapping[str, Any], expected: str) -> str | None:
    iss = claims.get("iss")
    if not isinstance(iss, str) or iss == expected:
        return None
    difference = spelling_difference(expected, iss)
    if difference is None:
        return (
            f"the token was issued by {iss} but the API expects {expected}: it comes from another issuer; "
            f"get a token from {expected}, or point the API's RESOURCE_API_ISSUER at {iss} if that is the one to trust"
        )
    return (
        f"the token was issued by {iss} but the API expects {expected} ({difference}); issuers are compared exactly: "
        f"set the API's RESOURCE_API_ISSUER to {iss}, or, if {expected} is the URL everyone should use, set "
        f"TOKEN_SERVICE_ISSUER={expected} on the token service and get a new token"
    )


def _rule_hint(result: RuleResult, token: UnverifiedToken, context: Context) -> str | None:
    claims = token.claims or {}
    error = result.error
    if isinstance(error, KeySetUnavailable):
        return (
            f"the keys of {context.issuer} could not be loaded ({result.detail}); the API would answer 503, not 401, "
            "until it can fetch them: check the issuer URL and that it is reachable from the API's host"
        )
    if isinstance(error, InsufficientScope):
        return (
            f"the token is valid but lacks scope {' '.join(error.required_scopes)!r}: the API answers 403 "
            "insufficient_scope, not 401; request that scope (scope=... in the token request) and make sure the "
            "client may have it (`token-service clients add --scope`)"
        )
    rule = result.rule
    if rule == "typ" and not is_id_token(token):
        return f"typ is {(token.header or {}).get('typ')!r}: the API accepts only RFC 9068 access tokens (typ at+jwt) issued by the token service"
    if rule == "kid":
        return context.key_state or (
            f"{result.detail}: a rotated or revoked key, or a token from another issuer; get a new token from {context.issuer}"
        )
    if rule == "signature":
        return f"{result.detail}; get a new token from {context.issuer} and send it unchanged"
    if rule == "audience":
        return _audience_hint(claims.get("aud"), context.audience)
    if rule == "expiry" and _number(claims.get("exp")):
        ago = context.now - float(claims["exp"])
        return (
            f"the token expired {human_seconds(ago)} ago (exp {utc_text(float(claims['exp']))}, leeway {context.leeway:g} s): "
            "get a new one (refresh token, or a new client_credentials request); access tokens live "
            "TOKEN_SERVICE_ACCESS_TOKEN_TTL seconds"
        )
    if rule in ("not_before", "issued_at"):
        name = "nbf" if rule == "not_before" else "iat"
        if _number(claims.get(name)):
            ahead = float(claims[name]) - context.now
            return (
                f"the token's {name} is {human_seconds(ahead)} in the future (leeway {context.leeway:g} s): the issuer's "
                "clock is ahead of this machine's; synchronise both clocks (NTP) rather than raising the leeway"
            )
    if rule == "required_claims":
        return f"{result.detail}: the token was not issued as an RFC 9068 access token; get one from {context.issuer}"
    return None


def _audience_hint(aud: Any, expected: str) -> str:
    audiences = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    if not audiences:
        return f"the token names no audience: have the client request resource={expected} (RFC 8707)"
    return (
        f"the token is for {', '.join(audiences)} but the API expects {expected}: if the token is meant for this API, "
        f"set the API's RESOURCE_API_AUDIENCE to {audiences[0]}; otherwise have the client request resource={expected} "
        f"(RFC 8707; register the API with `token-service resources add {expected} --scope ...` so clients with its scopes "
        f"may ask for it, or allow it per client with `token-service clients add --resource {expected}`, or make it the client's default "
        f"with `--audience {expected}`)"
    )


def _number(value: Any) -> bool:
    # The verifier's own test, so a hint never does arithmetic on inf or on an int too big for a float.
    return is_numeric_date(value)


def fix_hints(token: UnverifiedToken, evaluation: Evaluation, context: Context) -> list[str]:
    """Every applicable fix, most fundamental first: the token's kind, then the issuer, then each failed rule."""
    if evaluation.accepted:
        return []
    hints = _shape_hints(token, context.issuer)
    issuer_hint = _issuer_hint(token.claims or {}, context.issuer)
    if issuer_hint is not None:
        hints.append(issuer_hint)
    failures: Sequence[RuleResult] = evaluation.failures
    for result in failures:
        if result.rule == "issuer" and issuer_hint is not None:
            continue
        hint = _rule_hint(result, token, context)
        if hint is not None and hint not in hints:
            hints.append(hint)
    if not hints and failures:
        hints.append(failures[0].detail)
    return hints
