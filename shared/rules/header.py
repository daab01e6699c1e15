"""Header rules: the algorithm, the token type and no extension we would have to understand.

The algorithm comes from configuration and is checked before any key is looked up.
"""

from __future__ import annotations

from .rule import Rule, TokenUnderCheck, reject, shown

__all__ = ["ACCESS_TOKEN_TYPES", "ALGORITHM", "CRIT", "TYP"]

# RFC 9068 §2.1; RFC 7515 §4.1.9 lets the "application/" prefix be dropped and
# media types compare case-insensitively.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


def check_algorithm(t: TokenUnderCheck) -> None:
    assert t.header is not None
    alg = t.header.get("alg")
    allowed = t.policy.algorithms
    if not isinstance(alg, str):
        raise reject("algorithm", f"alg must be a string, got {shown(alg)}")
    if alg not in allowed:
        hint = ""
        if alg.upper().startswith("HS"):
            hint = "; an HMAC token cannot be checked against the issuer's public keys"
        raise reject("algorithm", f"alg {alg!r} is not allowed (allowed: {', '.join(allowed)}){hint}")
    t.alg = alg


def _algorithm_note(t: TokenUnderCheck) -> str:
    return f"alg {t.alg} is allowed"


def check_type(t: TokenUnderCheck) -> None:
    assert t.header is not None
    typ = t.header.get("typ")
    if typ is None:
        raise reject("typ", "the header has no typ, expected 'at+jwt' (RFC 9068 §2.1); is this an ID token? send the access token")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise reject("typ", f"typ is {shown(typ)}, expected 'at+jwt' (is this an ID token? send the access token)")


def _type_note(t: TokenUnderCheck) -> str:
    assert t.header is not None
    return f"typ {t.header['typ']}"


def check_critical_headers(t: TokenUnderCheck) -> None:
    assert t.header is not None
    if "crit" in t.header:
        # RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject.
        # Membership, not a None test: "crit": null is no valid list either, and joserfc's own
        # crit check (in the signature rule) would fail on it with a TypeError, i.e. a 500.
        raise reject("crit", f"the header lists critical extensions {shown(t.header['crit'])}, which this verifier does not support")
    if "b64" in t.header and t.header["b64"] is not True:
        raise reject("crit", "unencoded payloads (RFC 7797 b64) are not accepted for access tokens")
    if "zip" in t.header:
        # zip is a JWE parameter (RFC 7516 §4.1.3); in a JWS it could only be a way to
        # smuggle a payload that one reader inflates and another does not (RFC 8725 §3.6).
        raise reject("crit", f"compressed payloads (zip {shown(t.header['zip'])}) are not accepted; zip belongs to JWE")
    if "cty" in t.header:
        # RFC 7519 §5.2: cty only marks nested JWTs, and an access token is never nested
        # (RFC 8725 §3.11: one token, one explicit type).
        raise reject("crit", f"cty {shown(t.header['cty'])} marks a nested or non-JWT payload; access tokens are not nested")
    # jku, x5u, jwk and x5c are never consulted: keys come only from the configured issuer's JWKS.


def _critical_headers_note(t: TokenUnderCheck) -> str:
    return "no critical extensions"


ALGORITHM = Rule("algorithm", "alg is one of the configured algorithms", check_algorithm, _algorithm_note, ("header",))
TYP = Rule("typ", "typ is at+jwt (RFC 9068 access token)", check_type, _type_note, ("header",))
CRIT = Rule("crit", "no critical header extensions", check_critical_headers, _critical_headers_note, ("header",))
