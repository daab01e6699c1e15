"""Claim rules: who issued the token, for whom, when it is valid, what it carries and grants.

In `verify` no claim is read before the signature rule has passed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import InsufficientScope
from .rule import Rule, TokenUnderCheck, reject, shown

__all__ = ["AUDIENCE", "EXPIRY", "ISSUED_AT", "ISSUER", "NOT_BEFORE", "REQUIRED_CLAIMS", "SCOPE", "is_numeric_date"]


def _timestamp(value: float) -> str:
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return shown(value)


def is_numeric_date(value: Any) -> bool:
    """A usable RFC 7519 §2 NumericDate: a finite number that is not a bool."""
    # bool is an int in Python but not a NumericDate.
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (e.g. exp = 10**400) is no date either
        return False


def _numeric_date(claims: Mapping[str, Any], name: str, rule: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if not is_numeric_date(value):
        raise reject(rule, f"{name} must be a number of seconds since 1970 (NumericDate), got {type(value).__name__} {shown(value)}")
    return float(value)


def check_issuer(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    expected = t.policy.issuer
    iss = t.claims.get("iss")
    if iss is None:
        raise reject("issuer", f"the token has no iss claim, expected {expected!r}")
    if iss != expected:
        hint = ""
        if isinstance(iss, str) and iss.rstrip("/") == expected.rstrip("/"):
            hint = " (they differ only by a trailing slash; the match is exact)"
        raise reject("issuer", f"issuer was {shown(iss)}, expected {expected!r}{hint}")


def _issuer_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return f"issuer {t.claims['iss']}"


def _expected_audiences(t: TokenUnderCheck) -> str:
    accepted = t.policy.accepted_audiences
    return " or ".join(repr(a) for a in accepted) if accepted else repr(t.policy.audience)


def check_audience(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    expected = _expected_audiences(t)
    aud = t.claims.get("aud")
    if aud is None:
        raise reject("audience", f"the token has no aud claim, expected {expected}")
    if isinstance(aud, str):
        audiences: tuple[str, ...] = (aud,)
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        audiences = tuple(aud)
    else:
        raise reject("audience", f"aud must be a string or a list of strings, got {shown(aud)}")
    if not set(t.policy.accepted_audiences or (t.policy.audience,)) & set(audiences):
        raise reject("audience", f"audience was {shown(list(audiences))}, expected {expected}")
    t.audiences = audiences


def _audience_note(t: TokenUnderCheck) -> str:
    assert t.audiences is not None
    accepted = t.policy.accepted_audiences or (t.policy.audience,)
    return f"audience includes {' and '.join(a for a in accepted if a in t.audiences)}"


def check_expiry(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    exp = _numeric_date(t.claims, "exp", "expiry")
    leeway = t.policy.leeway
    if exp is None:
        raise reject("expiry", "the token has no exp claim; access tokens must expire (RFC 9068 §2.2)")
    # RFC 7519 §4.1.4: valid only while now is before exp, so exp == now (past leeway) is expired.
    if t.now >= exp + leeway:
        raise reject("expiry", f"token expired {t.now - exp:.0f} s ago (exp {_timestamp(exp)}, leeway {leeway:g} s)")


def _expiry_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return f"expires in {float(t.claims['exp']) - t.now:.0f} s"


def check_not_before(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    nbf = _numeric_date(t.claims, "nbf", "not_before")
    leeway = t.policy.leeway
    if nbf is not None and nbf > t.now + leeway:
        raise reject(
            "not_before",
            f"token is not valid until {_timestamp(nbf)} ({nbf - t.now:.0f} s from now, leeway {leeway:g} s); "
            "is the issuer's clock ahead?",
        )


def _not_before_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return "no nbf claim" if t.claims.get("nbf") is None else "nbf has passed"


def check_issued_at(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    iat = _numeric_date(t.claims, "iat", "issued_at")
    leeway = t.policy.leeway
    if iat is not None and iat > t.now + leeway:
        raise reject(
            "issued_at",
            f"token was issued {iat - t.now:.0f} s in the future (iat {_timestamp(iat)}, leeway {leeway:g} s); "
            "check that both clocks are synchronised",
        )


def _issued_at_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    iat = t.claims.get("iat")
    return "no iat claim" if iat is None else f"issued {t.now - float(iat):.0f} s ago"


_STRING_CLAIMS = ("sub", "client_id", "jti")


def check_required_claims(t: TokenUnderCheck) -> None:
    claims = t.claims
    assert claims is not None
    for name in t.policy.required_claims:
        if claims.get(name) is None:
            # The list of every missing claim is built only on this failure path.
            missing = [name for name in t.policy.required_claims if claims.get(name) is None]
            raise reject("required_claims", f"missing required claim(s): {', '.join(missing)}")
    for name in _STRING_CLAIMS:
        value = claims[name]
        if not isinstance(value, str) or not value:
            raise reject("required_claims", f"{name} must be a non-empty string, got {shown(value)}")
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise reject("required_claims", f"scope must be a space-separated string (RFC 9068 §2.2.3), got {shown(scope)}")


def _required_claims_note(t: TokenUnderCheck) -> str:
    return f"all of {', '.join(t.policy.required_claims)} present"


def check_scope(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    scope = t.claims.get("scope")
    granted = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    t.scopes = granted
    required = t.required_scopes
    if not granted.issuperset(required):
        raise InsufficientScope(required, granted_scopes=granted)


def _scope_note(t: TokenUnderCheck) -> str:
    return f"has {' '.join(t.required_scopes)}" if t.required_scopes else "no scope required"


ISSUER = Rule("issuer", "iss is exactly the configured issuer", check_issuer, _issuer_note, ("claims",))
AUDIENCE = Rule("audience", "aud contains this API's audience", check_audience, _audience_note, ("claims",))
EXPIRY = Rule("expiry", "exp is in the future (with leeway)", check_expiry, _expiry_note, ("claims",))
NOT_BEFORE = Rule("not_before", "nbf, if present, has passed (with leeway)", check_not_before, _not_before_note, ("claims",))
ISSUED_AT = Rule("issued_at", "iat, if present, is not in the future (with leeway)", check_issued_at, _issued_at_note, ("claims",))
REQUIRED_CLAIMS = Rule(
    "required_claims", "the RFC 9068 claims are present and well-typed", check_required_claims, _required_claims_note, ("claims",)
)
SCOPE = Rule("scope", "scope grants what the endpoint needs", check_scope, _scope_note, ("claims",))
