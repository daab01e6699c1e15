"""The ordered rules an RFC 9068 access token must pass, one function per rule.

`AccessTokenVerifier.verify` runs them in order and stops at the first failure;
`AccessTokenVerifier.evaluate` (used by `token-service explain`) runs the same
list and reports every rule. Each check takes the token under check, records
what it established on it (header, key, claims...), and either returns (None, or
an awaitable for a rule that may fetch keys) or raises a `TokenRejected` naming its
rule. What a passed rule found is put in words by its separate `note`, which only
`evaluate` calls: `verify` runs on every request and never reads those words, so
it never pays for building them.

The order matters: nothing is parsed before the size cap, the algorithm comes
from configuration and is checked before any key is looked up, and no claim is
trusted in `verify` before the signature has been checked.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.util import urlsafe_b64decode

from .claims import AccessTokenClaims
from .errors import InsufficientScope, InvalidToken

__all__ = ["RULES", "KeyResolver", "Policy", "Rule", "TokenUnderCheck", "is_numeric_date", "strict_json"]

# RFC 9068 §2.1; RFC 7515 §4.1.9 lets the "application/" prefix be dropped and
# media types compare case-insensitively.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_SEGMENT_NAMES = ("header", "payload", "signature")


class KeyResolver(Protocol):
    """Where the `kid` rule gets keys from; `JwksCache` is the usual one."""

    issuer: str

    async def get_key(self, kid: str | None) -> RSAKey: ...


@dataclass(frozen=True, slots=True)
class Policy:
    """What the resource server accepts; fixed at start-up, never taken from a token."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    leeway: float
    required_claims: tuple[str, ...]
    max_token_bytes: int
    registry: jws.JWSRegistry


@dataclass(slots=True)
class TokenUnderCheck:
    """A token on its way through the rules; each rule fills in what it established."""

    token: str
    now: float
    required_scopes: tuple[str, ...]
    policy: Policy
    keys: KeyResolver
    token_bytes: bytes | None = None
    compact: jws.CompactSignature | None = None
    header: dict[str, Any] | None = None
    alg: str | None = None
    key: RSAKey | None = None
    claims: dict[str, Any] | None = None
    audiences: tuple[str, ...] | None = None
    scopes: frozenset[str] | None = None

    def to_claims(self) -> AccessTokenClaims:
        """The verified claims; only meaningful after every rule passed."""
        claims = self.claims
        assert claims is not None and self.audiences is not None and self.scopes is not None
        return AccessTokenClaims(
            sub=claims["sub"],
            client_id=claims["client_id"],
            scopes=self.scopes,
            aud=self.audiences,
            iss=claims["iss"],
            exp=claims["exp"],
            iat=claims["iat"],
            jti=claims["jti"],
            raw=claims,
        )


RuleCheck = Callable[[TokenUnderCheck], Awaitable[None] | None]
RuleNote = Callable[[TokenUnderCheck], str]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    """Stable id, the `rule` of the TokenRejected it raises."""
    title: str
    """What the rule requires, in words, for explain output."""
    check: RuleCheck
    """Raises TokenRejected (or KeySetUnavailable); returns None, or an awaitable to await."""
    note: RuleNote
    """What the check found, in words, read right after it passed; only `evaluate` asks."""
    needs: tuple[str, ...] = field(default=())
    """Fields of TokenUnderCheck earlier rules must have set; evaluate skips the rule otherwise."""


def _reject(rule: str, reason: str) -> InvalidToken:
    return InvalidToken(reason, rule=rule)


def _shown(value: Any) -> str:
    """A claim value for a message, short enough that a huge or hostile value cannot flood logs."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _timestamp(value: float) -> str:
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return _shown(value)


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
        raise _reject(rule, f"{name} must be a number of seconds since 1970 (NumericDate), got {type(value).__name__} {_shown(value)}")
    return float(value)


# ---- the rules ----------------------------------------------------------------------


def check_format(t: TokenUnderCheck) -> None:
    token = t.token
    if not isinstance(token, str):
        raise _reject("format", f"the token must be a string, got {type(token).__name__}")
    # len() counts characters, never more than the UTF-8 bytes, so this cap holds
    # before anything is decoded; non-ASCII is refused right after.
    if len(token) > t.policy.max_token_bytes:
        raise _reject("format", f"the token is {len(token)} bytes, over the {t.policy.max_token_bytes}-byte limit")
    if not token.isascii():
        raise _reject("format", "the token contains non-ASCII characters; a JWT is base64url text")
    if not _COMPACT_JWS.fullmatch(token):
        raise _reject("format", _format_problem(token))
    t.token_bytes = token.encode("ascii")


def _format_note(t: TokenUnderCheck) -> str:
    return f"compact JWS, {len(t.token)} bytes"


def _format_problem(token: str) -> str:
    segments = token.split(".")
    if len(segments) == 5:
        return "the token has 5 segments, so it is an encrypted JWT (JWE); send a signed access token (JWS, 3 segments)"
    if len(segments) != 3:
        return (
            f"the token has {len(segments)} dot-separated segment(s), expected 3 (header.payload.signature); "
            "is it an opaque token or an authorization code rather than a JWT access token?"
        )
    for name, segment in zip(_SEGMENT_NAMES, segments, strict=True):
        if not segment:
            extra = " (unsigned tokens are not accepted)" if name == "signature" else ""
            return f"the {name} segment is empty{extra}"
        if not _BASE64URL.fullmatch(segment):
            return f"the {name} segment is not base64url (only A-Z a-z 0-9 - _ are allowed, no padding)"
    return "the token is not a compact JWS"


class DuplicateMember(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"member {name!r} appears more than once")
        self.name = name


class NestedTooDeeply(ValueError):
    """Python's JSON parser raises RecursionError (not a ValueError) on deep nesting;
    as a ValueError it is refused like any other unreadable JSON instead of escaping as a 500."""

    def __init__(self) -> None:
        super().__init__("JSON nested too deeply")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise DuplicateMember(name)
        members[name] = value
    return members


def _reject_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str | bytes) -> Any:
    """JSON as a JWT must be: no repeated member names, no NaN or Infinity.

    RFC 7515 §5.2 and RFC 7519 §7.2 make a JOSE header or claims set with duplicate
    member names invalid (or only valid with last-wins parsing, which is exactly how
    two parsers come to disagree about the same token: RFC 8725 §2.7). Raises
    DuplicateMember, NestedTooDeeply or another ValueError.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # RFC 7519 §7.2: the JSON is UTF-8
    try:
        return _STRICT_DECODER.decode(text)
    except RecursionError:
        raise NestedTooDeeply() from None


# One decoder, built once: json.loads with hooks would construct a new one per call, on
# the hot path of every verification.
_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_reject_json_constant)


_HEADER_TOO_DEEP = "the header nests JSON too deeply to be read"


def check_header(t: TokenUnderCheck) -> None:
    assert t.token_bytes is not None
    compact = _extract_plain(t.token_bytes, t.policy.registry)
    if compact is None:
        compact = _extract_checked(t.token_bytes, t.policy.registry)
    t.compact = compact
    t.header = compact.protected


def _extract_plain(token_bytes: bytes, registry: jws.JWSRegistry) -> jws.CompactSignature | None:
    """The usual token, with its header JSON parsed once, strictly; None for anything else.

    joserfc's extract_compact parses the header with last-wins json.loads, so refusing
    duplicate members meant parsing it a second time. Here the strict parse is the only
    one, and every step is joserfc's own (its size limits, its strict base64url decoder,
    its CompactSignature), in the order of its extract_rfc7515_compact (joserfc 1.8, as
    locked; tests compare the two). A header the strict decoder reads without error
    (valid UTF-8, no repeated member, no NaN) is exactly the dict joserfc's json.loads
    would give. Whatever is not plain (a size over a limit, undecodable or non-object or
    repeated-member JSON, no alg, a b64 member) returns None, and `_extract_checked`, the
    general path, finds the problem and words it.
    """
    parts = token_bytes.split(b".")
    if len(parts) != 3:
        return None
    header_segment, payload_segment, signature_segment = parts
    try:
        registry.validate_compact_value_size(token_bytes)
        registry.validate_header_size(header_segment)
        registry.validate_signature_size(signature_segment)
        registry.validate_payload_size(payload_segment)
        header = strict_json(urlsafe_b64decode(header_segment))
        # RFC 7797 b64 changes what the payload segment means: left to joserfc's own reading.
        if type(header) is not dict or "alg" not in header or "b64" in header:
            return None
        payload = urlsafe_b64decode(payload_segment)
    except (JoseError, ValueError):
        return None
    compact = jws.CompactSignature(header, payload)
    compact.segments.update({"header": header_segment, "payload": payload_segment, "signature": signature_segment})
    return compact


def _extract_checked(token_bytes: bytes, registry: jws.JWSRegistry) -> jws.CompactSignature:
    """joserfc's extract_compact and then the strict header parse: every rejection, worded."""
    try:
        compact = jws.extract_compact(token_bytes, registry=registry)
    except JoseError as exc:
        raise _reject("header", f"the token could not be decoded: {exc.description or exc.error}") from None
    except RecursionError:
        # joserfc's json.loads on a header like [[[[...]]]]: any client can send one, before
        # any signature is checked, so it must end as a 401 and not as an unhandled error.
        raise _reject("header", _HEADER_TOO_DEEP) from None
    header = compact.headers()
    if not isinstance(header, dict):
        raise _reject("header", "the header is not a JSON object")
    # joserfc parses the header with last-wins json.loads; parse it again refusing
    # duplicates, so {"alg":"none","alg":"RS256"} cannot mean two things.
    try:
        strict_json(base64.urlsafe_b64decode(token_bytes.split(b".", 1)[0] + b"==="))
    except DuplicateMember as exc:
        raise _reject("header", f"the header repeats the {exc.name!r} member (RFC 7515 §5.2)") from None
    except NestedTooDeeply:
        raise _reject("header", _HEADER_TOO_DEEP) from None
    except ValueError:
        raise _reject("header", "the header is not valid JSON") from None
    return compact


def _header_note(t: TokenUnderCheck) -> str:
    assert t.header is not None
    return f"header names {', '.join(sorted(t.header))}"


def check_algorithm(t: TokenUnderCheck) -> None:
    assert t.header is not None
    alg = t.header.get("alg")
    allowed = t.policy.algorithms
    if not isinstance(alg, str):
        raise _reject("algorithm", f"alg must be a string, got {_shown(alg)}")
    if alg not in allowed:
        hint = ""
        if alg.upper().startswith("HS"):
            hint = "; an HMAC token cannot be checked against the issuer's public keys"
        raise _reject("algorithm", f"alg {alg!r} is not allowed (allowed: {', '.join(allowed)}){hint}")
    t.alg = alg


def _algorithm_note(t: TokenUnderCheck) -> str:
    return f"alg {t.alg} is allowed"


def check_type(t: TokenUnderCheck) -> None:
    assert t.header is not None
    typ = t.header.get("typ")
    if typ is None:
        raise _reject("typ", "the header has no typ, expected 'at+jwt' (RFC 9068 §2.1); is this an ID token? send the access token")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise _reject("typ", f"typ is {_shown(typ)}, expected 'at+jwt' (is this an ID token? send the access token)")


def _type_note(t: TokenUnderCheck) -> str:
    assert t.header is not None
    return f"typ {t.header['typ']}"


def check_critical_headers(t: TokenUnderCheck) -> None:
    assert t.header is not None
    if "crit" in t.header:
        # RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject.
        # Membership, not a None test: "crit": null is no valid list either, and joserfc's own
        # crit check (in the signature rule) would fail on it with a TypeError, i.e. a 500.
        raise _reject("crit", f"the header lists critical extensions {_shown(t.header['crit'])}, which this verifier does not support")
    if "b64" in t.header and t.header["b64"] is not True:
        raise _reject("crit", "unencoded payloads (RFC 7797 b64) are not accepted for access tokens")
    if "zip" in t.header:
        # zip is a JWE parameter (RFC 7516 §4.1.3); in a JWS it could only be a way to
        # smuggle a payload that one reader inflates and another does not (RFC 8725 §3.6).
        raise _reject("crit", f"compressed payloads (zip {_shown(t.header['zip'])}) are not accepted; zip belongs to JWE")
    if "cty" in t.header:
        # RFC 7519 §5.2: cty only marks nested JWTs, and an access token is never nested
        # (RFC 8725 §3.11: one token, one explicit type).
        raise _reject("crit", f"cty {_shown(t.header['cty'])} marks a nested or non-JWT payload; access tokens are not nested")
    # jku, x5u, jwk and x5c are never consulted: keys come only from the configured issuer's JWKS.


def _critical_headers_note(t: TokenUnderCheck) -> str:
    return "no critical extensions"


async def check_kid(t: TokenUnderCheck) -> None:
    assert t.header is not None
    kid = t.header.get("kid")
    # An explicit "kid": null is a wrong type, not a missing kid (which the cache
    # tolerates for single-key sets).
    if "kid" in t.header and not isinstance(kid, str):
        raise _reject("kid", f"kid must be a string, got {_shown(kid)}")
    t.key = await t.keys.get_key(kid)


def _kid_note(t: TokenUnderCheck) -> str:
    assert t.key is not None
    return f"key {t.key.kid} is in the JWKS of {t.keys.issuer}"


def check_signature(t: TokenUnderCheck) -> None:
    assert t.compact is not None and t.header is not None and t.key is not None
    try:
        valid = jws.validate_compact(t.compact, t.key, registry=t.policy.registry)
    except JoseError as exc:
        raise _reject("signature", f"the signature could not be checked with key {t.key.kid!r}: {exc.description or exc.error}") from None
    except TypeError:
        # Only `evaluate` gets here with a crit member (verify stops at the crit rule): joserfc
        # iterates crit and looks each entry up in the header, a TypeError on null, a number
        # or a nested list. Anything else is a bug to surface, not a verdict.
        if "crit" not in t.header:
            raise
        raise _reject("signature", f"the signature could not be checked with key {t.key.kid!r}: crit must be a list of header names") from None
    if not valid:
        raise _reject(
            "signature",
            f"the signature does not match key {t.key.kid!r} of {t.keys.issuer}; the token was altered or signed by another key",
        )


def _signature_note(t: TokenUnderCheck) -> str:
    assert t.key is not None
    return f"signature verified with key {t.key.kid}"


def check_payload(t: TokenUnderCheck) -> None:
    assert t.compact is not None
    try:
        claims = strict_json(t.compact.payload)
    except DuplicateMember as exc:
        raise _reject("payload", f"the payload repeats the {exc.name!r} claim (RFC 7519 §4)") from None
    except NestedTooDeeply:
        raise _reject("payload", "the payload nests JSON too deeply to be read") from None
    except ValueError:
        raise _reject("payload", "the payload is not valid JSON") from None
    if not isinstance(claims, dict):
        raise _reject("payload", "the payload is not a JSON object of claims")
    t.claims = claims


def _payload_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return f"{len(t.claims)} claims"


def check_issuer(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    expected = t.policy.issuer
    iss = t.claims.get("iss")
    if iss is None:
        raise _reject("issuer", f"the token has no iss claim, expected {expected!r}")
    if iss != expected:
        hint = ""
        if isinstance(iss, str) and iss.rstrip("/") == expected.rstrip("/"):
            hint = " (they differ only by a trailing slash; the match is exact)"
        raise _reject("issuer", f"issuer was {_shown(iss)}, expected {expected!r}{hint}")


def _issuer_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return f"issuer {t.claims['iss']}"


def check_audience(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    expected = t.policy.audience
    aud = t.claims.get("aud")
    if aud is None:
        raise _reject("audience", f"the token has no aud claim, expected {expected!r}")
    if isinstance(aud, str):
        audiences: tuple[str, ...] = (aud,)
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        audiences = tuple(aud)
    else:
        raise _reject("audience", f"aud must be a string or a list of strings, got {_shown(aud)}")
    if expected not in audiences:
        raise _reject("audience", f"audience was {_shown(list(audiences))}, expected {expected!r}")
    t.audiences = audiences


def _audience_note(t: TokenUnderCheck) -> str:
    return f"audience includes {t.policy.audience}"


def check_expiry(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    exp = _numeric_date(t.claims, "exp", "expiry")
    leeway = t.policy.leeway
    if exp is None:
        raise _reject("expiry", "the token has no exp claim; access tokens must expire (RFC 9068 §2.2)")
    # RFC 7519 §4.1.4: valid only while now is before exp, so exp == now (past leeway) is expired.
    if t.now >= exp + leeway:
        raise _reject("expiry", f"token expired {t.now - exp:.0f} s ago (exp {_timestamp(exp)}, leeway {leeway:g} s)")


def _expiry_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return f"expires in {float(t.claims['exp']) - t.now:.0f} s"


def check_not_before(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    nbf = _numeric_date(t.claims, "nbf", "not_before")
    leeway = t.policy.leeway
    if nbf is not None and nbf > t.now + leeway:
        raise _reject(
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
        raise _reject(
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
            raise _reject("required_claims", f"missing required claim(s): {', '.join(missing)}")
    for name in _STRING_CLAIMS:
        value = claims[name]
        if not isinstance(value, str) or not value:
            raise _reject("required_claims", f"{name} must be a non-empty string, got {_shown(value)}")
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise _reject("required_claims", f"scope must be a space-separated string (RFC 9068 §2.2.3), got {_shown(scope)}")


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


RULES: tuple[Rule, ...] = (
    Rule("format", "a compact JWS (three base64url segments) within the size limit", check_format, _format_note),
    Rule("header", "a decodable JOSE header", check_header, _header_note, ("token_bytes",)),
    Rule("algorithm", "alg is one of the configured algorithms", check_algorithm, _algorithm_note, ("header",)),
    Rule("typ", "typ is at+jwt (RFC 9068 access token)", check_type, _type_note, ("header",)),
    Rule("crit", "no critical header extensions", check_critical_headers, _critical_headers_note, ("header",)),
    Rule("kid", "kid names a key in the issuer's JWKS", check_kid, _kid_note, ("header",)),
    Rule("signature", "the signature verifies with that key", check_signature, _signature_note, ("compact", "alg", "key")),
    Rule("payload", "the payload is a JSON object of claims", check_payload, _payload_note, ("compact",)),
    Rule("issuer", "iss is exactly the configured issuer", check_issuer, _issuer_note, ("claims",)),
    Rule("audience", "aud contains this API's audience", check_audience, _audience_note, ("claims",)),
    Rule("expiry", "exp is in the future (with leeway)", check_expiry, _expiry_note, ("claims",)),
    Rule("not_before", "nbf, if present, has passed (with leeway)", check_not_before, _not_before_note, ("claims",)),
    Rule("issued_at", "iat, if present, is not in the future (with leeway)", check_issued_at, _issued_at_note, ("claims",)),
    Rule("required_claims", "the RFC 9068 claims are present and well-typed", check_required_claims, _required_claims_note, ("claims",)),
    Rule("scope", "scope grants what the endpoint needs", check_scope, _scope_note, ("claims",)),
)
