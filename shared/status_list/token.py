"""Checking a Status List Token (draft-ietf-oauth-status-list §8.3) before any bit of it is used.

Signed by a key of the issuer's own JWKS (the same cache that verifies access tokens),
`typ` `statuslist+jwt`, `sub` exactly the URI it was fetched from, not expired, and a
`status_list` whose `lst` decompresses within a size cap. Anything else refuses the list,
and with it every token pointing at it, rather than guessing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from ..errors import InvalidToken, KeySetUnavailable
from ..rules import KeyResolver, is_numeric_date, strict_json
from .bits import VALID_BITS, StatusListError, decode_lst

__all__ = ["STATUS_LIST_TYP", "StatusListRefused", "VerifiedStatusList", "verify_status_list_token"]

STATUS_LIST_TYP = "statuslist+jwt"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


class StatusListRefused(Exception):
    """The fetched list cannot be used; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedStatusList:
    uri: str
    packed: bytes
    bits: int
    ttl: float | None
    exp: float | None
    """Wall-clock expiry of the list token (None: the issuer set none)."""


def _segment(value: str, what: str) -> Any:
    try:
        return strict_json(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise StatusListRefused(f"the status list token's {what} is not base64url JSON ({exc})") from None


async def verify_status_list_token(token: str, uri: str, keys: KeyResolver, *, now: float, leeway: float, max_bytes: int) -> VerifiedStatusList:
    parts = token.split(".")
    if len(parts) != 3:
        raise StatusListRefused("the status list is not a compact JWS (three dot-separated parts)")
    header = _segment(parts[0], "header")
    if not isinstance(header, dict):
        raise StatusListRefused("the status list token's header is not a JSON object")
    if header.get("typ") != STATUS_LIST_TYP:
        raise StatusListRefused(f"the status list token's typ is {header.get('typ')!r}, expected {STATUS_LIST_TYP!r}")
    if header.get("alg") not in ALGORITHMS:
        raise StatusListRefused(f"the status list token's alg {header.get('alg')!r} is not an RSA signature algorithm")
    kid = header.get("kid")
    try:
        key = await keys.get_key(kid if isinstance(kid, str) else None)
    except InvalidToken as exc:
        raise StatusListRefused(f"the status list is not signed by a key of {keys.issuer}: {exc.reason}") from None
    except KeySetUnavailable as exc:
        raise StatusListRefused(f"the issuer's keys are unavailable: {exc.reason}") from None
    try:
        compact = jws.deserialize_compact(token, key, algorithms=[header["alg"]])
    except JoseError as exc:
        raise StatusListRefused(f"the status list token's signature does not verify with key {key.kid!r}: {exc.description or exc.error}") from None
    claims = strict_json(compact.payload)
    if not isinstance(claims, dict):
        raise StatusListRefused("the status list token's payload is not a JSON object")
    if claims.get("sub") != uri:
        # §8.3: a list served for another URI is another list (a replayed or swapped one).
        raise StatusListRefused(f"the status list token is for sub {str(claims.get('sub'))[:120]!r}, not {uri!r}")
    if not is_numeric_date(claims.get("iat")):
        raise StatusListRefused("the status list token has no valid iat")
    exp = claims.get("exp")
    if exp is not None and (not is_numeric_date(exp) or now >= exp + leeway):
        raise StatusListRefused(f"the status list token expired (exp {exp!r})")
    ttl = claims.get("ttl")
    if ttl is not None and (not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl <= 0):
        raise StatusListRefused(f"the status list token's ttl {ttl!r} is not a positive number")
    status_list = claims.get("status_list")
    if not isinstance(status_list, dict):
        raise StatusListRefused("the status list token has no status_list object")
    bits = status_list.get("bits")
    if bits not in VALID_BITS or isinstance(bits, bool):
        raise StatusListRefused(f"status_list.bits is {bits!r}, expected one of {VALID_BITS}")
    try:
        packed = decode_lst(status_list.get("lst"), max_bytes=max_bytes)
    except StatusListError as exc:
        raise StatusListRefused(str(exc)) from None
    return VerifiedStatusList(uri, packed, int(bits), float(ttl) if ttl is not None else None, float(exp) if exp is not None else None)
