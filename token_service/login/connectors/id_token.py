"""Validation of an upstream's ID token (OpenID Connect Core §3.1.3.7). Signature checks are joserfc's."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeGuard

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key

from token_service.login.connectors.errors import InvalidIdTokenError

KeyLookup = Callable[[str | None, str], Awaitable[Key]]


@dataclass(frozen=True)
class IdTokenExpectations:
    upstream: str
    issuer: str
    client_id: str
    nonce: str
    algorithms: Collection[str]
    leeway: int


def _refuses_algorithm(alg: str, allowed: Collection[str]) -> bool:
    # `none` and HMAC are refused even if an allow-list somehow names them: an HMAC "signature"
    # keyed with the public key or our client secret proves nothing about the upstream (RFC 8725 §3.1).
    return alg not in allowed or alg.lower() == "none" or alg.upper().startswith("HS")


async def verify_id_token(token: str, expect: IdTokenExpectations, key_for: KeyLookup, now: float | None = None) -> dict[str, Any]:
    """The ID token's claims, or `InvalidIdTokenError` naming the first check that failed."""
    def fail(reason: str) -> InvalidIdTokenError:
        return InvalidIdTokenError(expect.upstream, reason)

    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        raise fail("the ID token is not a JWS compact serialization") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or _refuses_algorithm(alg, expect.algorithms):
        raise fail(f"the ID token is signed with alg {alg!r}; allowed: {', '.join(expect.algorithms)}")
    kid = header.get("kid")
    key = await key_for(kid if isinstance(kid, str) else None, alg)
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except JoseError as exc:
        raise fail(f"the ID token's signature does not verify with the upstream's key ({exc.error})") from None

    moment = time.time() if now is None else now
    check_claims(claims, expect, moment)
    return claims


def check_claims(claims: dict[str, Any], expect: IdTokenExpectations, now: float) -> None:
    def fail(reason: str) -> InvalidIdTokenError:
        return InvalidIdTokenError(expect.upstream, reason)

    if claims.get("iss") != expect.issuer:
        raise fail(f"the ID token's iss is {claims.get('iss')!r}, expected {expect.issuer!r}")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise fail("the ID token's sub is missing, empty, or longer than 255 characters (OIDC Core §2)")

    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
    if audiences is None or expect.client_id not in audiences:
        raise fail(f"the ID token's aud is {aud!r}, which does not contain our client_id {expect.client_id!r}")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise fail("the ID token has several audiences and no azp naming us (OIDC Core §3.1.3.7 step 4)")
    if azp is not None and azp != expect.client_id:
        raise fail(f"the ID token's azp is {azp!r}, expected our client_id {expect.client_id!r}")

    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_time(exp):
        raise fail("the ID token lacks a numeric exp")
    if not _is_time(iat):
        raise fail("the ID token lacks a numeric iat")
    if now > exp + expect.leeway:
        raise fail(f"the ID token expired {int(now - exp)} s ago")
    if iat > now + expect.leeway:
        raise fail(f"the ID token was issued {int(iat - now)} s in the future; check the clocks")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_time(nbf) or nbf > now + expect.leeway):
        raise fail("the ID token is not valid yet (nbf)")

    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), expect.nonce.encode()):
        raise fail("the ID token's nonce is not the one this login sent (replayed or injected token)")


def _is_time(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
