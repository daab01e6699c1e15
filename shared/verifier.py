"""Verifying RFC 9068 JWT access tokens against an issuer's JWKS.

`verify` is the hot path: it walks `rules.RULES` and stops at the first failure.
`evaluate` walks the same rules for diagnostics (`token-service explain`) and
reports every one, so the tool can never disagree with what a service enforces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from joserfc import jws

from .claims import RFC9068_REQUIRED_CLAIMS, AccessTokenClaims
from .errors import KeySetUnavailable, TokenRejected
from .rules import RULES, KeyResolver, Policy, Rule, StatusListResolver, TokenUnderCheck

__all__ = ["AccessTokenVerifier", "Evaluation", "RuleResult", "verify_access_token"]

# The JWKS cache only holds RSA keys, so only RSA signature algorithms can ever verify.
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})

Outcome = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str
    title: str
    outcome: Outcome
    detail: str
    """What was found (passed), why it failed, or which earlier result it needed (skipped)."""
    error: TokenRejected | KeySetUnavailable | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every rule's result for one token, in rule order."""

    results: tuple[RuleResult, ...]
    claims: AccessTokenClaims | None
    """Set only when every rule passed."""
    header: dict[str, Any] | None
    unverified_claims: dict[str, Any] | None
    """The decoded payload even when the signature failed: for display, never for decisions."""

    @property
    def accepted(self) -> bool:
        return self.claims is not None

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome == "failed")


class AccessTokenVerifier:
    """Checks bearer tokens for one API (audience) trusting one issuer.

    `audience` is the `aud` a token must carry; an API known by several identifiers
    (RFC 8707: its base URL and its MCP endpoint, say) passes them all, its own first,
    and a token carrying any one of them is accepted.
    """

    def __init__(
        self,
        jwks: KeyResolver,
        *,
        issuer: str,
        audience: str | Sequence[str],
        algorithms: Sequence[str] = ("RS256",),
        leeway: float = 30,
        required_claims: Iterable[str] = RFC9068_REQUIRED_CLAIMS,
        max_token_bytes: int = 8192,
        clock: Callable[[], float] = time.time,
        rules: Sequence[Rule] = RULES,
        status_lists: StatusListResolver | None = None,
    ) -> None:
        if jwks.issuer != issuer:
            raise ValueError(f"the JWKS cache is for {jwks.issuer!r} but the verifier trusts {issuer!r}")
        audiences = (audience,) if isinstance(audience, str) else tuple(dict.fromkeys(audience))
        if not audiences or not all(audiences):
            raise ValueError("audience must be set: a token for another API must not be accepted here")
        unsupported = set(algorithms) - SUPPORTED_ALGORITHMS
        if unsupported or not algorithms:
            raise ValueError(
                f"algorithms must be RSA signature algorithms ({', '.join(sorted(SUPPORTED_ALGORITHMS))}), "
                f"got {sorted(unsupported) or 'none'}"
            )
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        algs = tuple(dict.fromkeys(algorithms))
        # RFC 9068 §2.2 claims are always required; callers can only add more.
        required = tuple(dict.fromkeys((*RFC9068_REQUIRED_CLAIMS, *required_claims)))
        self.jwks = jwks
        # strict_check_header=False: unknown header names are legal (RFC 7515 §4);
        # the crit rule is what refuses extensions we would have to understand.
        registry = jws.JWSRegistry(algorithms=algs, strict_check_header=False)
        # The whole token is already capped; joserfc's 512-byte header default would
        # refuse legitimate headers carrying x5c or x5t chains that we ignore anyway.
        registry.max_header_length = max_token_bytes
        self.policy = Policy(
            issuer=issuer,
            # The first audience is the API's own identifier (its public URL's origin by default);
            # any others are further identifiers it answers to (RFC 8707 resources it serves).
            audience=audiences[0],
            accepted_audiences=audiences if len(audiences) > 1 else (),
            algorithms=algs,
            leeway=float(leeway),
            required_claims=required,
            max_token_bytes=max_token_bytes,
            registry=registry,
        )
        # A service that applies more (or other) rules passes its own list; see shared.rules.
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._clock = clock
        # Checked only when given (shared.status_list.StatusListCache): tokens' `status` claims.
        self.status_lists = status_lists

    def _start(self, token: str, required_scopes: Iterable[str], now: float | None) -> TokenUnderCheck:
        return TokenUnderCheck(
            token=token,
            now=self._clock() if now is None else now,
            required_scopes=tuple(required_scopes),
            policy=self.policy,
            keys=self.jwks,
            status_lists=self.status_lists,
        )

    async def verify(self, token: str, *, required_scopes: Iterable[str] = ()) -> AccessTokenClaims:
        """The token's claims if it passes every rule.

        Raises the first rule's TokenRejected (InvalidToken or InsufficientScope),
        or KeySetUnavailable when the issuer's keys cannot be loaded.
        """
        under_check = self._start(token, required_scopes, None)
        for rule in self.rules:
            pending = rule.check(under_check)
            if pending is not None:
                await pending
        return under_check.to_claims()

    async def evaluate(
        self, token: str, *, required_scopes: Iterable[str] = (), now: float | None = None
    ) -> Evaluation:
        """Run every rule and report each result, for diagnostics.

        Unlike `verify`, a failure does not stop the walk: later rules still run
        when what they need is available (claims are checked even if the signature
        failed, so one run shows every problem). A rule whose input an earlier
        failure left missing is reported as skipped. The token is accepted only
        when nothing failed or was skipped, exactly as `verify` would decide.
        """
        under_check = self._start(token, required_scopes, now)
        results: list[RuleResult] = []
        for rule in self.rules:
            missing = [name for name in rule.needs if getattr(under_check, name) is None]
            if missing:
                results.append(RuleResult(rule.name, rule.title, "skipped", f"not checked: needs {', '.join(missing)}"))
                continue
            try:
                pending = rule.check(under_check)
                if pending is not None:
                    await pending
            except (TokenRejected, KeySetUnavailable) as exc:
                results.append(RuleResult(rule.name, rule.title, "failed", exc.reason, exc))
            else:
                # Worded right away, before a later rule adds to what the note reads.
                results.append(RuleResult(rule.name, rule.title, "passed", rule.note(under_check)))
        accepted = all(r.outcome == "passed" for r in results)
        return Evaluation(
            results=tuple(results),
            claims=under_check.to_claims() if accepted else None,
            header=under_check.header,
            unverified_claims=under_check.claims,
        )


async def verify_access_token(
    token: str, verifier: AccessTokenVerifier, required_scopes: Iterable[str] = ()
) -> AccessTokenClaims:
    """Framework-neutral entry point: the claims, or TokenRejected / KeySetUnavailable."""
    return await verifier.verify(token, required_scopes=required_scopes)
