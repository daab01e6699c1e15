"""What a rule is, and the token it works on.

A rule is a `check` that either returns (None, or an awaitable for a rule that may
fetch) or raises a `TokenRejected` naming the rule, plus a `note` that puts what a
passed check found into words. The check records what it established on the
`TokenUnderCheck` (header, key, claims...) for the rules after it.

A new rule that needs something per request (a DPoP proof, the request's method and
URL) or records something for later rules (a token's status) adds a field here with a
default of None, so the rules that do not use it are untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from joserfc import jws
from joserfc.jwk import RSAKey

from ..claims import AccessTokenClaims
from ..errors import InvalidToken

__all__ = ["KeyResolver", "Policy", "Rule", "RuleCheck", "RuleNote", "TokenUnderCheck", "reject", "shown"]


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
    accepted_audiences: tuple[str, ...] = ()
    """Every audience accepted when the API answers to more than one identifier (its
    `audience` first); empty: only `audience`."""


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
    status_lists: Any = None
    """A `StatusListResolver` (rules/status.py) when the verifier checks token status."""

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


def reject(rule: str, reason: str) -> InvalidToken:
    return InvalidToken(reason, rule=rule)


def shown(value: Any) -> str:
    """A token's value for a message, short enough that a huge or hostile value cannot flood logs."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
