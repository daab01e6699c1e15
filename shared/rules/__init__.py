"""The ordered rules an RFC 9068 access token must pass.

`AccessTokenVerifier.verify` runs `RULES` in order and stops at the first failure;
`AccessTokenVerifier.evaluate` (used by `token-service explain`) runs the same list
and reports every rule. What a passed rule found is put in words by its separate
`note`, which only `evaluate` calls: `verify` runs on every request and never reads
those words, so it never pays for building them.

The order matters: nothing is parsed before the size cap (`shape`), the algorithm
comes from configuration and is checked before any key is looked up (`header`), and
no claim is trusted in `verify` before the signature has been checked (`signature`,
then `claims`).

Adding a rule (a token-status check, a DPoP proof check, ...):
1. write its `check` and `note` in the module of its concept, or a new module here,
   and declare its `Rule(name, title, check, note, needs)` beside them;
2. a field it needs from the request or records for later rules goes on
   `TokenUnderCheck` (`rule.py`) with a None default;
3. put it in `RULES` below at the place its inputs exist (a claim check after
   `SIGNATURE`), or hand a verifier its own list through `AccessTokenVerifier(rules=...)`
   when only some services apply it.
A check returns None, or an awaitable when it must fetch (see `check_kid`); a
synchronous check costs the hot path one call and no await.
"""

from __future__ import annotations

from .claims import AUDIENCE, EXPIRY, ISSUED_AT, ISSUER, NOT_BEFORE, REQUIRED_CLAIMS, SCOPE, is_numeric_date
from .header import ACCESS_TOKEN_TYPES, ALGORITHM, CRIT, TYP
from .jose_json import DuplicateMember, NestedTooDeeply, strict_json
from .rule import KeyResolver, Policy, Rule, RuleCheck, RuleNote, TokenUnderCheck
from .shape import FORMAT, HEADER, PAYLOAD
from .signature import KID, SIGNATURE
from .status import STATUS, StatusListResolver

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "RULES",
    "DuplicateMember",
    "KeyResolver",
    "NestedTooDeeply",
    "Policy",
    "Rule",
    "RuleCheck",
    "RuleNote",
    "StatusListResolver",
    "TokenUnderCheck",
    "is_numeric_date",
    "strict_json",
]

RULES: tuple[Rule, ...] = (
    FORMAT,
    HEADER,
    ALGORITHM,
    TYP,
    CRIT,
    KID,
    SIGNATURE,
    PAYLOAD,
    ISSUER,
    AUDIENCE,
    EXPIRY,
    NOT_BEFORE,
    ISSUED_AT,
    REQUIRED_CLAIMS,
    STATUS,
    SCOPE,
)
