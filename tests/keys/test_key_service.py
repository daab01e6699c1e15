"""KeyService performs lifecycle transitions durably, once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from tests.keys.conftest import opened, with_keys
from token_service.keys.keyring import KeySnapshot
from token_service.keys.lifecycle import (
    Activate,
    KeyLifecycleError,
    NewKey,
    Retire,
    Revoke,
    UnknownKeyError,
)
from token_service.keys.sealing import KeyDecryptionError, load_kek, new_kek_text
from token_service.keys.service import KeyService
from token_service.settings import TokenServiceSettings


async def first_key(keys: KeyService) -> tuple[str, int]:
    (info,) = await keys.list()
    assert info.state == "active" and info.activated_at is not None
    return info.kid, info.activated_at


def published_kids(snapshot: KeySnapshot) -> list[str]:
    return [k.kid for k in snapshot.published()]


def test_planned_rotation_signs_with_the_new_key_only_from_activates_at(make_settings: Any) -> None:
    async def scenario(keys: KeyService) -> None:
        old, t0 = await first_key(keys)
        (published,) = await keys.rotate(activate_now=False, now=t0 + 10)
        assert isinstance(published, NewKey) and published.kid is not None
        new, activates_at = published.kid, t0 + 10 + keys.timings.prepublish

        before = await keys.snapshot(now=activates_at - 1)
        assert before.signer_kid == old and published_kids(before) == [old, new]
        assert await keys.advance(activates_at - 1) == []

        assert await keys.advance(activates_at) == [Retire(old, activates_at + keys.timings.retirement_window), Activate(new)]
        after = await keys.snapshot(now=activates_at)
        assert after.signer_kid == new and published_kids(after) == [old, new]
        gone = await keys.snapshot(now=activates_at + keys.timings.retirement_window)
        assert published_kids(gone) == [new]
        # The row stays (state retired, removes_at passed): the history of keys is kept.
        assert {k.kid: k.state for k in await keys.list()} == {old: "retired", new: "active"}

    with_keys(make_settings(), scenario)


def test_emergency_rotation_signs_at_once_and_keeps_the_old_key_published(make_settings: Any) -> None:
    async def scenario(keys: KeyService) -> None:
        old, t0 = await first_key(keys)
        retired, created = await keys.rotate(activate_now=True, now=t0 + 5)
        assert retired == Retire(old, t0 + 5 + keys.timings.retirement_window)
        assert isinstance(created, NewKey) and created.active
        snapshot = await keys.snapshot(now=t0 + 5)
        assert snapshot.signer_kid == created.kid and published_kids(snapshot) == [old, created.kid]

    with_keys(make_settings(), scenario)


def test_revoking_the_signer_replaces_it_and_drops_it_from_the_jwks(make_settings: Any) -> None:
    async def scenario(keys: KeyService) -> None:
        old, t0 = await first_key(keys)
        revoked, replacement = await keys.revoke(old, now=t0 + 1)
        assert revoked == Revoke(old) and isinstance(replacement, NewKey) and replacement.active
        snapshot = await keys.snapshot(now=t0 + 1)
        assert snapshot.signer_kid == replacement.kid
        assert published_kids(snapshot) == [replacement.kid]
        assert old.encode() not in snapshot.jwks_bytes
        with pytest.raises(KeyLifecycleError, match="already revoked"):
            await keys.revoke(old, now=t0 + 2)

    with_keys(make_settings(), scenario)


def test_unknown_kid_changes_nothing(make_settings: Any) -> None:
    async def scenario(keys: KeyService) -> None:
        before = await keys.list()
        for operation in (keys.retire, keys.revoke):
            with pytest.raises(UnknownKeyError, match="no signing key with kid 'missing'"):
                await operation("missing")
        assert await keys.list() == before

    with_keys(make_settings(), scenario)


def test_rotation_under_a_different_kek_is_refused_before_anything_changes(make_settings: Any) -> None:
    settings = make_settings(key_encryption_key=new_kek_text())
    wrong = settings.model_copy(update={"key_encryption_key": SecretStr(new_kek_text())})

    async def run() -> None:
        async with opened(settings) as runtime:
            before = await runtime.keys.list()
            other = KeyService.from_settings(runtime.db_sessions, load_kek(wrong), wrong)
            with pytest.raises(KeyDecryptionError):
                await other.rotate(activate_now=False)
            assert await runtime.keys.list() == before

    asyncio.run(run())


def test_two_instances_advancing_at_once_perform_each_transition_once(
    two_instances: tuple[TokenServiceSettings, TokenServiceSettings],
) -> None:
    first, second = two_instances

    async def run() -> None:
        async with opened(first) as a, opened(second) as b:
            old, t0 = await first_key(a.keys)
            timings = a.keys.timings
            rotation_due = t0 + timings.rotation_period - timings.prepublish

            results = await asyncio.gather(a.keys.advance(rotation_due), b.keys.advance(rotation_due))
            performed = [r for r in results if r]
            assert len(performed) == 1 and isinstance(performed[0][0], NewKey)
            new = performed[0][0].kid
            assert sorted(k.state for k in await b.keys.list()) == ["active", "pending"]

            activation = rotation_due + timings.prepublish
            results = await asyncio.gather(a.keys.advance(activation), b.keys.advance(activation))
            assert sorted(len(r) for r in results) == [0, 2]
            states = {k.kid: k.state for k in await a.keys.list()}
            assert states == {old: "retired", new: "active"}

            # Same rows, same moment: byte-identical JWKS and ETag on both instances.
            snap_a, snap_b = await a.keys.snapshot(now=activation), await b.keys.snapshot(now=activation)
            assert snap_a.jwks_bytes == snap_b.jwks_bytes and snap_a.etag == snap_b.etag
            assert snap_a.signer_kid == snap_b.signer_kid == new

    asyncio.run(run())
