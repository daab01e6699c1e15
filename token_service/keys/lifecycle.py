"""When signing keys change state: pure planning over key infos and an explicit clock.

A key is `pending` (published, not signing) -> `active` (the one signer) -> `retired`
(published until `removes_at`, then kept as a row but out of the JWKS). `revoked` leaves
the JWKS at once. The timing guarantees, with M = jwks_max_age, G = key_publish_margin:

- A new key is published P = key_prepublish_seconds >= M + G before it signs, so every
  verifier honouring our `Cache-Control: max-age` has refetched a JWKS holding it; G
  covers instances picking the change up (they poll every few seconds) and clock skew.
- A retired key stays published W = max(access_token_ttl, id_token_ttl) + leeway + M + G
  after it stopped signing: every token it signed has expired (with the verifiers'
  leeway) before it leaves; M + G is deliberate slack for an instance still signing
  with a stale snapshot and for intermediate caches serving an older JWKS.
- Automatic rotation (R = key_rotation_period > 0) pre-publishes the next key P seconds
  before the active key reaches age R, and R >= P + W keeps at most two keys published
  in steady state.

Whether a retired key is still published depends on `now`, so around `removes_at`
instances may serve different JWKS bytes for up to one key-polling interval; they agree
again once each has reloaded. Every function here returns `Transition`s; the
`KeyService` applies them inside one locked transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

# Re-exported: planning functions take it, and callers build it here.
from token_service.configuration.key_timings import KeyTimings as KeyTimings

if TYPE_CHECKING:
    from token_service.keys.keyring import KeyInfo


def iso_utc(moment: int | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KeyLifecycleError(Exception):
    """The requested key operation is not allowed in the current state; the message says why."""


class UnknownKeyError(KeyLifecycleError):
    """No signing key has the given kid."""


@dataclass(frozen=True)
class NewKey:
    """Generate a key; `active` makes it the signer at once. `kid` is set once it exists."""

    active: bool
    activates_at: int
    kid: str | None = None


@dataclass(frozen=True)
class Activate:
    kid: str


@dataclass(frozen=True)
class Retire:
    kid: str
    removes_at: int


@dataclass(frozen=True)
class Revoke:
    kid: str


Transition = NewKey | Activate | Retire | Revoke


def _in_state(keys: Sequence[KeyInfo], state: str) -> list[KeyInfo]:
    return [k for k in keys if k.state == state]


def _find(keys: Sequence[KeyInfo], kid: str) -> KeyInfo:
    for key in keys:
        if key.kid == kid:
            return key
    raise UnknownKeyError(f"no signing key with kid {kid!r}; `token-service keys list` shows them")


def _handover(keys: Sequence[KeyInfo], now: int, timings: KeyTimings) -> list[Transition]:
    # Whoever signed until now keeps being published for the whole retirement window.
    return [Retire(k.kid, now + timings.retirement_window) for k in _in_state(keys, "active")]


def plan_due(keys: Sequence[KeyInfo], now: int, timings: KeyTimings) -> list[Transition]:
    """Every transition the clock has made due; empty when nothing is (the common case)."""
    due = sorted(
        (k for k in _in_state(keys, "pending") if k.activates_at is not None and k.activates_at <= now),
        key=lambda k: (k.activates_at or 0, k.created_at, k.kid),
    )
    if due:
        # Only the latest due key signs; earlier due ones never signed and leave the JWKS now.
        newest = due[-1]
        return [*_handover(keys, now, timings), *(Retire(k.kid, now) for k in due[:-1]), Activate(newest.kid)]
    actives = _in_state(keys, "active")
    if timings.rotation_period and actives and not _in_state(keys, "pending"):
        signer = max(actives, key=lambda k: (k.activated_at or k.created_at, k.created_at))
        # Publish the successor P seconds before the signer reaches the rotation period.
        if now >= (signer.activated_at or signer.created_at) + timings.rotation_period - timings.prepublish:
            return [NewKey(active=False, activates_at=now + timings.prepublish)]
    return []


def plan_rotation(keys: Sequence[KeyInfo], now: int, timings: KeyTimings, *, activate_now: bool) -> list[Transition]:
    pending = _in_state(keys, "pending")
    if activate_now or not _in_state(keys, "active"):
        # Emergency (or nothing signs yet): the new key signs at once. Pending keys are
        # withdrawn, since they would otherwise take over from it at their activates_at.
        withdrawn: list[Transition] = [Retire(k.kid, now) for k in pending]
        return [*_handover(keys, now, timings), *withdrawn, NewKey(active=True, activates_at=now)]
    if pending:
        key = pending[0]
        raise KeyLifecycleError(
            f"key {key.kid} is already pending and starts signing at {iso_utc(key.activates_at)}; "
            "wait for it, or use --activate-now for an emergency rotation"
        )
    return [NewKey(active=False, activates_at=now + timings.prepublish)]


def plan_retire(keys: Sequence[KeyInfo], kid: str, now: int, timings: KeyTimings) -> list[Transition]:
    """Retiring the signer hands over to a pending key that verifiers' caches have seen; a
    pending key never signed, so it leaves the JWKS at once."""
    key = _find(keys, kid)
    if key.state == "pending":
        return [Retire(kid, now)]
    if key.state != "active":
        raise KeyLifecycleError(f"key {kid} is {key.state}; only a pending or active key can be retired")
    ready = [k for k in _in_state(keys, "pending") if now >= k.created_at + timings.cache_horizon]
    if not ready:
        raise KeyLifecycleError(
            f"key {kid} is the signing key and no successor has been published for {timings.cache_horizon} s "
            "(TOKEN_SERVICE_JWKS_MAX_AGE + TOKEN_SERVICE_KEY_PUBLISH_MARGIN); run `token-service keys rotate`, "
            "which retires it when the new key starts signing, or `keys rotate --activate-now` in an emergency"
        )
    successor = max(ready, key=lambda k: (k.created_at, k.kid))
    others = [Retire(k.kid, now) for k in _in_state(keys, "pending") if k.kid != successor.kid]
    return [*_handover(keys, now, timings), *others, Activate(successor.kid)]


def plan_revoke(keys: Sequence[KeyInfo], kid: str, now: int, timings: KeyTimings) -> list[Transition]:
    """Revoking the signer never leaves the service without one: the newest pending key
    (already in some verifiers' caches) signs at once, or else a freshly generated key."""
    key = _find(keys, kid)
    if key.state == "revoked":
        raise KeyLifecycleError(f"key {kid} is already revoked")
    plan: list[Transition] = [Revoke(kid)]
    others_active = [k for k in _in_state(keys, "active") if k.kid != kid]
    if key.state != "active" or others_active:
        return plan
    pending = _in_state(keys, "pending")
    if pending:
        successor = max(pending, key=lambda k: (k.created_at, k.kid))
        return [*plan, *(Retire(k.kid, now) for k in pending if k.kid != successor.kid), Activate(successor.kid)]
    return [*plan, NewKey(active=True, activates_at=now)]
