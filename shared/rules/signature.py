"""The key named by `kid`, from the issuer's key set, and the signature it must verify.

Keys come only from the configured issuer's JWKS (`KeyResolver`); jku, x5u, jwk and
x5c in a header are never consulted.
"""

from __future__ import annotations

from joserfc import jws
from joserfc.errors import JoseError

from .rule import Rule, TokenUnderCheck, reject, shown

__all__ = ["KID", "SIGNATURE"]


async def check_kid(t: TokenUnderCheck) -> None:
    assert t.header is not None
    kid = t.header.get("kid")
    # An explicit "kid": null is a wrong type, not a missing kid (which the cache
    # tolerates for single-key sets).
    if "kid" in t.header and not isinstance(kid, str):
        raise reject("kid", f"kid must be a string, got {shown(kid)}")
    t.key = await t.keys.get_key(kid)


def _kid_note(t: TokenUnderCheck) -> str:
    assert t.key is not None
    return f"key {t.key.kid} is in the JWKS of {t.keys.issuer}"


def check_signature(t: TokenUnderCheck) -> None:
    assert t.compact is not None and t.header is not None and t.key is not None
    try:
        valid = jws.validate_compact(t.compact, t.key, registry=t.policy.registry)
    except JoseError as exc:
        raise reject("signature", f"the signature could not be checked with key {t.key.kid!r}: {exc.description or exc.error}") from None
    except TypeError:
        # Only `evaluate` gets here with a crit member (verify stops at the crit rule): joserfc
        # iterates crit and looks each entry up in the header, a TypeError on null, a number
        # or a nested list. Anything else is a bug to surface, not a verdict.
        if "crit" not in t.header:
            raise
        raise reject("signature", f"the signature could not be checked with key {t.key.kid!r}: crit must be a list of header names") from None
    if not valid:
        raise reject(
            "signature",
            f"the signature does not match key {t.key.kid!r} of {t.keys.issuer}; the token was altered or signed by another key",
        )


def _signature_note(t: TokenUnderCheck) -> str:
    assert t.key is not None
    return f"signature verified with key {t.key.kid}"


KID = Rule("kid", "kid names a key in the issuer's JWKS", check_kid, _kid_note, ("header",))
SIGNATURE = Rule("signature", "the signature verifies with that key", check_signature, _signature_note, ("compact", "alg", "key"))
