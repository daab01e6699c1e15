"""Key lifecycle planning with explicit clocks: no database, no sleeping."""

from __future__ import annotations

import pytest

from token_service.keys.keyring import KeyInfo, jwks_document
from token_service.keys.lifecycle import (
    Activate,
    KeyLifecycleError,
    KeyTimings,
    NewKey,
    Retire,
    Revoke,
    Transition,
    UnknownKeyError,
    plan_due,
    plan_retire,
    plan_revoke,
    plan_rotation,
)

# M=300, G=60, P=900, W = 600 + 30 + 300 + 60 = 990, R = 1 day.
TIMINGS = KeyTimings(jwks_max_age=300, publish_margin=60, prepublish=900, longest_token_ttl=600, leeway=30, rotation_period=86400)
T0 = 1_800_000_000


def key(kid: str, state: str, created_at: int = T0, **times: int | None) -> KeyInfo:
    fields: dict[str, int | None] = {"activates_at": None, "activated_at": None, "retired_at": None, "removes_at": None, "revoked_at": None}
    fields.update(times)
    return KeyInfo(kid=kid, state=state, created_at=created_at, public_jwk={"kid": kid}, **fields)


def apply(keys: list[KeyInfo], plan: list[Transition], now: int) -> list[KeyInfo]:
    """What KeyService does to the rows, on infos: enough to follow a key through its life."""
    by_kid = {k.kid: k for k in keys}
    for step in plan:
        if isinstance(step, NewKey):
            kid = f"k{len(by_kid) + 1}"
            state = "active" if step.active else "pending"
            by_kid[kid] = key(kid, state, now, activates_at=step.activates_at, activated_at=now if step.active else None)
        elif isinstance(step, Activate):
            by_kid[step.kid] = _with(by_kid[step.kid], state="active", activated_at=now)
        elif isinstance(step, Retire):
            by_kid[step.kid] = _with(by_kid[step.kid], state="retired", retired_at=now, removes_at=step.removes_at)
        elif isinstance(step, Revoke):
            by_kid[step.kid] = _with(by_kid[step.kid], state="revoked", revoked_at=now)
    return list(by_kid.values())


def _with(info: KeyInfo, **changes: object) -> KeyInfo:
    from dataclasses import replace

    return replace(info, **changes)  # type: ignore[arg-type]


def published(keys: list[KeyInfo], now: int) -> list[str]:
    return [k.kid for k in keys if k.is_published(now)]


def test_timings_follow_from_settings() -> None:
    assert TIMINGS.cache_horizon == 360
    assert TIMINGS.retirement_window == 990
    assert TIMINGS.problems() == []


def test_pending_key_becomes_active_exactly_at_activates_at() -> None:
    keys = [key("k1", "active", activated_at=T0), key("k2", "pending", T0 + 10, activates_at=T0 + 910)]
    assert plan_due(keys, T0 + 909, TIMINGS) == []
    plan = plan_due(keys, T0 + 910, TIMINGS)
    assert plan == [Retire("k1", T0 + 910 + 990), Activate("k2")]


def test_retired_key_leaves_the_jwks_only_after_the_window() -> None:
    keys = [key("k1", "active", activated_at=T0), key("k2", "pending", T0 + 10, activates_at=T0 + 910)]
    keys = apply(keys, plan_due(keys, T0 + 910, TIMINGS), T0 + 910)
    removes_at = T0 + 910 + TIMINGS.retirement_window
    assert published(keys, removes_at - 1) == ["k1", "k2"]
    assert published(keys, removes_at) == ["k2"]
    assert b'"k1"' in jwks_document(keys, removes_at - 1) and b'"k1"' not in jwks_document(keys, removes_at)
    # Leaving the JWKS is a consequence of the clock, not a further transition.
    assert plan_due(keys, removes_at, TIMINGS) == []


def test_revoked_key_leaves_the_jwks_at_once() -> None:
    keys = [key("k1", "retired", activated_at=T0, retired_at=T0 + 100, removes_at=T0 + 5000), key("k2", "active", activated_at=T0 + 100)]
    plan = plan_revoke(keys, "k1", T0 + 200, TIMINGS)
    assert plan == [Revoke("k1")]
    assert published(apply(keys, plan, T0 + 200), T0 + 200) == ["k2"]


def test_revoking_the_signer_promotes_the_published_pending_key() -> None:
    keys = [key("k1", "active", activated_at=T0), key("k2", "pending", T0 + 10, activates_at=T0 + 910)]
    assert plan_revoke(keys, "k1", T0 + 20, TIMINGS) == [Revoke("k1"), Activate("k2")]


def test_revoking_the_only_key_creates_a_signing_replacement() -> None:
    keys = [key("k1", "active", activated_at=T0)]
    plan = plan_revoke(keys, "k1", T0 + 20, TIMINGS)
    assert plan == [Revoke("k1"), NewKey(active=True, activates_at=T0 + 20)]
    after = apply(keys, plan, T0 + 20)
    assert [k.state for k in after] == ["revoked", "active"]


def test_automatic_rotation_prepublishes_in_time() -> None:
    keys = [key("k1", "active", activated_at=T0)]
    due = T0 + TIMINGS.rotation_period - TIMINGS.prepublish
    assert plan_due(keys, due - 1, TIMINGS) == []
    plan = plan_due(keys, due, TIMINGS)
    assert plan == [NewKey(active=False, activates_at=T0 + TIMINGS.rotation_period)]
    keys = apply(keys, plan, due)
    # Published from `due` on: every cache has it before it signs.
    assert published(keys, due) == ["k1", "k2"]
    assert keys[1].activates_at is not None and keys[1].activates_at - due >= TIMINGS.cache_horizon
    assert plan_due(keys, due + 1, TIMINGS) == []  # one successor at a time


def test_late_automatic_rotation_still_prepublishes_for_the_full_period() -> None:
    keys = [key("k1", "active", activated_at=T0)]
    late = T0 + 3 * TIMINGS.rotation_period  # the service was down
    assert plan_due(keys, late, TIMINGS) == [NewKey(active=False, activates_at=late + TIMINGS.prepublish)]


def test_no_automatic_rotation_when_period_is_zero() -> None:
    manual = KeyTimings(jwks_max_age=300, publish_margin=60, prepublish=900, longest_token_ttl=600, leeway=30, rotation_period=0)
    assert plan_due([key("k1", "active", activated_at=T0)], T0 + 10**8, manual) == []


def test_steady_state_publishes_at_most_two_keys() -> None:
    keys = [key("k1", "active", activated_at=T0)]
    most = 0
    for now in range(T0, T0 + 4 * TIMINGS.rotation_period, 60):
        keys = apply(keys, plan_due(keys, now, TIMINGS), now)
        most = max(most, len(published(keys, now)))
        assert sum(k.state == "active" for k in keys) == 1
    assert most == 2
    assert sum(k.state == "retired" for k in keys) >= 3


def test_planned_rotation_publishes_before_signing_and_refuses_a_second_pending() -> None:
    keys = [key("k1", "active", activated_at=T0)]
    plan = plan_rotation(keys, T0 + 5, TIMINGS, activate_now=False)
    assert plan == [NewKey(active=False, activates_at=T0 + 5 + 900)]
    with pytest.raises(KeyLifecycleError, match="already pending"):
        plan_rotation(apply(keys, plan, T0 + 5), T0 + 6, TIMINGS, activate_now=False)


def test_emergency_rotation_signs_now_retires_the_signer_and_withdraws_pending() -> None:
    keys = [key("k1", "active", activated_at=T0), key("k2", "pending", T0 + 10, activates_at=T0 + 910)]
    plan = plan_rotation(keys, T0 + 20, TIMINGS, activate_now=True)
    assert plan == [Retire("k1", T0 + 20 + 990), Retire("k2", T0 + 20), NewKey(active=True, activates_at=T0 + 20)]


def test_retiring_the_signer_needs_a_successor_caches_have_seen() -> None:
    keys = [key("k1", "active", activated_at=T0)]
    with pytest.raises(KeyLifecycleError, match="keys rotate"):
        plan_retire(keys, "k1", T0 + 1, TIMINGS)
    keys.append(key("k2", "pending", T0 + 10, activates_at=T0 + 910))
    with pytest.raises(KeyLifecycleError, match="360 s"):
        plan_retire(keys, "k1", T0 + 10 + 359, TIMINGS)
    assert plan_retire(keys, "k1", T0 + 10 + 360, TIMINGS) == [Retire("k1", T0 + 370 + 990), Activate("k2")]


def test_retiring_a_pending_key_withdraws_it_at_once() -> None:
    keys = [key("k1", "active", activated_at=T0), key("k2", "pending", T0 + 10, activates_at=T0 + 910)]
    assert plan_retire(keys, "k2", T0 + 20, TIMINGS) == [Retire("k2", T0 + 20)]


@pytest.mark.parametrize("planner", [plan_retire, plan_revoke])
def test_unknown_kid_is_named(planner: object) -> None:
    with pytest.raises(UnknownKeyError, match="'nope'"):
        planner([key("k1", "active", activated_at=T0)], "nope", T0, TIMINGS)  # type: ignore[operator]


def test_revoked_and_retired_keys_cannot_be_retired_again() -> None:
    keys = [key("k1", "revoked", revoked_at=T0), key("k2", "retired", retired_at=T0, removes_at=T0 + 9), key("k3", "active")]
    for kid in ("k1", "k2"):
        with pytest.raises(KeyLifecycleError, match="only a pending or active key"):
            plan_retire(keys, kid, T0 + 1, TIMINGS)
    with pytest.raises(KeyLifecycleError, match="already revoked"):
        plan_revoke(keys, "k1", T0 + 1, TIMINGS)


def test_timing_problems_spell_out_the_arithmetic() -> None:
    bad = KeyTimings(jwks_max_age=600, publish_margin=60, prepublish=300, longest_token_ttl=600, leeway=30, rotation_period=1000)
    first, second = bad.problems()
    assert "TOKEN_SERVICE_JWKS_MAX_AGE (600 s) + TOKEN_SERVICE_KEY_PUBLISH_MARGIN (60 s) = 660 s exceeds" in first
    assert "TOKEN_SERVICE_KEY_PREPUBLISH_SECONDS (300 s)" in first and "at least 660" in first
    assert "TOKEN_SERVICE_KEY_ROTATION_PERIOD (1000 s)" in second and "= 1590 s" in second
