"""Recognising tokens this service issued: revocation (RFC 7009) and introspection (RFC 7662).

Neither endpoint is an audience of the tokens it is shown, so the shared verifier's
audience rule is swapped for one that only checks `aud` is well-formed; every other rule
(size, alg, typ at+jwt, a published key of ours, signature, iss, exp, required claims) is
the very one resource servers apply, so the answers here cannot drift from theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shared.claims import AccessTokenClaims
from shared.errors import InvalidToken, KeySetUnavailable, TokenRejected
from shared.rules import RULES, Rule, StatusListResolver, TokenUnderCheck
from shared.verifier import AccessTokenVerifier
from token_service.clients.models import Client
from token_service.clock import Clock
from token_service.status import StatusRevocations
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.local_keys import SnapshotKeyResolver
from token_service.tokens.refresh import RefreshTokens

INACTIVE: dict[str, Any] = {"active": False}

T = TypeVar("T")


def check_any_audience(t: TokenUnderCheck) -> None:
    assert t.claims is not None
    aud = t.claims.get("aud")
    if isinstance(aud, str):
        audiences: tuple[str, ...] = (aud,)
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        audiences = tuple(aud)
    else:
        raise InvalidToken("aud must be a string or a non-empty list of strings", rule="audience")
    t.audiences = audiences


def any_audience_note(t: TokenUnderCheck) -> str:
    assert t.audiences is not None
    return f"audience {', '.join(t.audiences)}"


ANY_AUDIENCE_RULES: tuple[Rule, ...] = tuple(
    Rule(
        "audience",
        "aud is well-formed (any audience: the caller is not the token's audience)",
        check_any_audience,
        any_audience_note,
        ("claims",),
    )
    if rule.name == "audience"
    else rule
    for rule in RULES
)


def own_access_token_verifier(
    resolver: SnapshotKeyResolver, *, leeway: int, clock: Clock, status_lists: StatusListResolver | None = None
) -> AccessTokenVerifier:
    # The constructor insists on an audience (a safe default for resource servers); it is
    # never consulted here because the audience rule is replaced.
    return AccessTokenVerifier(
        resolver, issuer=resolver.issuer, audience=resolver.issuer, leeway=leeway, clock=clock, rules=ANY_AUDIENCE_RULES, status_lists=status_lists
    )


def search_order(hint: str | None, by_kind: dict[str, Callable[[], Awaitable[T]]]) -> list[Callable[[], Awaitable[T]]]:
    """RFC 7009 §2.1 / RFC 7662 §2.1: the hint only decides where to look first; an unknown
    or wrong hint never stops the search."""
    first = by_kind.get(hint or "")
    return ([first] if first else []) + [lookup for lookup in by_kind.values() if lookup is not first]


class IssuedTokens:
    def __init__(
        self,
        resolver: SnapshotKeyResolver,
        refresh_tokens: RefreshTokens,
        denylist: AccessTokenDenyList,
        *,
        leeway: int,
        clock: Clock,
        status: StatusRevocations | None = None,
        status_lists: StatusListResolver | None = None,
    ) -> None:
        self._status = status
        self._issuer = resolver.issuer
        self._refresh_tokens = refresh_tokens
        self._denylist = denylist
        self._leeway = leeway
        # Introspection answers on the issuer's own clock, so no skew allowance: a token is
        # inactive from its exp on. Revocation allows the leeway userinfo allows, so a token
        # userinfo would still accept can still be revoked.
        # A token revoked by user, client or family (its status bit) is inactive too.
        self._introspection = own_access_token_verifier(resolver, leeway=0, clock=clock, status_lists=status_lists)
        self._revocation = own_access_token_verifier(resolver, leeway=leeway, clock=clock)

    @staticmethod
    async def _verified(verifier: AccessTokenVerifier, token: str) -> AccessTokenClaims | None:
        try:
            return await verifier.verify(token)
        except (TokenRejected, KeySetUnavailable):
            return None

    async def revoke(self, token: str, client: Client, hint: str | None) -> None:
        """Revokes `token` if it is ours and `client`'s; anything else is left alone (RFC 7009 §2.2)."""

        async def refresh_token() -> bool:
            family = await self._refresh_tokens.family_of(token)
            if family is None:
                return False
            # Another client's token is ignored exactly like an unknown one: the same 200,
            # so the endpoint is no oracle for which tokens exist, and no client can end
            # another's session.
            if family.client_id == client.client_id:
                # The family, not the single token: a revoked refresh token's rotated
                # successor must not keep the grant alive (RFC 7009 §2.1).
                await self._refresh_tokens.revoke_family(family.id)
            return True

        async def access_token() -> bool:
            claims = await self._verified(self._revocation, token)
            if claims is None:
                return False
            if claims.client_id == client.client_id:
                # Kept until no verifier of ours would accept the token anyway.
                await self._denylist.add(claims.jti, int(claims.exp) + self._leeway)
                if self._status is not None:
                    # Every API checking the token's status refuses it within the list's ttl.
                    await self._status.revoke_token(claims.jti)
            return True

        for lookup in search_order(hint, {"refresh_token": refresh_token, "access_token": access_token}):
            if await lookup():
                return

    async def introspect(self, token: str, client: Client, hint: str | None) -> dict[str, Any]:
        """RFC 7662 §2.2: the token's metadata when active, else only `active: false`."""
        async def access_token() -> dict[str, Any] | None:
            claims = await self._verified(self._introspection, token)
            if claims is None or await self._denylist.contains(claims.jti):
                return None
            # Any authenticated confidential client may ask about any of our access tokens:
            # the caller is typically the resource server the token was sent to, never the
            # client it was issued to (RFC 7662 §1).
            body: dict[str, Any] = {"active": True}
            if "scope" in claims.raw:
                body["scope"] = claims.raw["scope"]
            body.update(
                client_id=claims.client_id,
                sub=claims.sub,
                aud=claims.raw["aud"],
                iss=claims.iss,
                exp=claims.exp,
                iat=claims.iat,
                token_type="Bearer",
                jti=claims.jti,
            )
            if "cnf" in claims.raw:
                # RFC 9449 §6.2: the resource server learns which key the token is bound to.
                body["cnf"] = claims.raw["cnf"]
                body["token_type"] = "DPoP"
            return body

        async def refresh_token() -> dict[str, Any] | None:
            usable = await self._refresh_tokens.usable(token)
            # A refresh token is only ever sent to us by the client it was issued to; no
            # resource server has a reason to hold one. Another caller asking about it holds
            # a leaked credential, and "active" would confirm it is worth replaying
            # (RFC 7662 §4), so it gets the same answer as an unknown token.
            if usable is None or usable.client_id != client.client_id:
                return None
            return {
                "active": True,
                "scope": usable.scope,
                "client_id": usable.client_id,
                "sub": usable.user_id,
                "iss": self._issuer,
                "exp": usable.expires_at,
                "iat": usable.issued_at,
                "token_type": "refresh_token",
            }

        for lookup in search_order(hint, {"access_token": access_token, "refresh_token": refresh_token}):
            found = await lookup()
            if found is not None:
                return found
        # Nothing else: expired, revoked, malformed and foreign tokens must look alike.
        return dict(INACTIVE)
