"""The token's status (draft-ietf-oauth-status-list §8): its bit in the issuer's status list.

Checked only when the token carries `status` and the verifier was given a status list
cache; a held, fresh list answers synchronously (a bit lookup), otherwise the check awaits
the list. A list that cannot be had (fetch failing beyond the stale allowance, refused
signature, foreign origin) refuses the token: a revoked token must not pass because its
list was unreachable.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from ..errors import StatusUnavailable
from ..status_list.bits import status_at
from .rule import Rule, TokenUnderCheck, reject, shown

__all__ = ["STATUS", "StatusListResolver"]

STATUS_NAMES = {1: "revoked", 2: "suspended"}


class StatusListResolver(Protocol):
    """Where the status rule gets lists from; `shared.status_list.StatusListCache` is the usual one."""

    def fresh(self, uri: str) -> Any: ...

    def get(self, uri: str) -> Awaitable[Any]: ...


def _reference(t: TokenUnderCheck) -> tuple[str, int] | None:
    assert t.claims is not None
    status = t.claims.get("status")
    if status is None:
        return None
    status_list = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(status_list, dict):
        raise reject("status", f"status must be an object with a status_list member, got {shown(status)}")
    idx, uri = status_list.get("idx"), status_list.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise reject("status", f"status.status_list.idx must be a non-negative integer, got {shown(idx)}")
    if not isinstance(uri, str) or not uri:
        raise reject("status", f"status.status_list.uri must be a URL, got {shown(uri)}")
    return uri, idx


def _judge(verified: Any, uri: str, idx: int) -> None:
    value = status_at(verified.packed, idx, verified.bits)
    if value is None:
        raise reject("status", f"index {idx} is beyond status list {uri} ({len(verified.packed) * 8 // verified.bits} entries)")
    if value:
        raise reject("status", f"{STATUS_NAMES.get(value, f'status 0x{value:02x}')} (status list {uri}, index {idx})")


async def _fetch_and_judge(t: TokenUnderCheck, uri: str, idx: int) -> None:
    assert t.status_lists is not None
    try:
        held = await t.status_lists.get(uri)
    except StatusUnavailable as exc:
        raise reject("status", f"the token's status could not be checked: {exc.reason}") from None
    _judge(held.verified, uri, idx)


def check_status(t: TokenUnderCheck) -> Awaitable[None] | None:
    if t.status_lists is None:
        return None
    reference = _reference(t)
    if reference is None:
        return None
    uri, idx = reference
    held = t.status_lists.fresh(uri)
    if held is not None:
        _judge(held.verified, uri, idx)
        return None
    return _fetch_and_judge(t, uri, idx)


def _status_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    status = t.claims.get("status")
    if status is None:
        return "the token has no status claim (it cannot be revoked before it expires)"
    if t.status_lists is None:
        return "status not checked (no status list cache configured)"
    reference = _reference(t)
    assert reference is not None
    return f"valid in status list {reference[0]}, index {reference[1]}"


STATUS = Rule("status", "the token is not revoked (its bit in the issuer's status list)", check_status, _status_note, ("claims",))
