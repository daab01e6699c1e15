"""Lists fill up and roll over, never hand out an index twice, and go (410) once their tokens expired."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import msgspec
import pytest

from shared.status_list import decode_lst
from tests.status.conftest import set_bits
from tests.support.clock import FakeClock
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings
from token_service.status import PublishedStatusLists, StatusIndices, StatusRevocations, status_list_store
from token_service.status.published import TOKEN_LIFETIME
from token_service.status.store import BLOCK_WINDOW
from token_service.status.wiring import build_status, published_status_lists
from token_service.tokens.signer import TokenSigner


def payload(token: bytes) -> dict[str, Any]:
    segment = token.split(b".")[1]
    return dict(msgspec.json.decode(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))))


def test_lists_roll_over_expire_and_are_gone(make_settings: Any) -> None:
    asyncio.run(rollover_and_expiry(make_settings(status_list_size=1024, status_list_block=256, access_token_ttl=60)))


async def rollover_and_expiry(settings: TokenServiceSettings) -> None:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = status_list_store(runtime.db_sessions, settings)
        published = PublishedStatusLists(store, TokenSigner(runtime.current_keys.current), issuer=settings.issuer, ttl=10, clock=clock)
        indices = StatusIndices(store, issuer=settings.issuer, block_size=256, clock=clock)
        seen: set[tuple[str, int]] = set()
        user1: set[tuple[str, int]] = set()
        for n in range(2500):
            await indices.ready()
            claim = indices.assign(jti=f"j{n}", client_id="c", user_id=f"u{n % 3}", family_id=None, expires_at=int(clock()) + 60)
            reference = (claim["status_list"]["uri"], claim["status_list"]["idx"])
            seen.add(reference)
            if n % 3 == 1:
                user1.add(reference)
        await indices.flush()
        assert len(seen) == 2500  # never the same index twice
        uris = sorted({uri for uri, _ in seen})
        assert len(uris) == 3 and all(max(i for u, i in seen if u == uri) < 1024 for uri in uris)

        revoked = await StatusRevocations(store, ttl=10, clock=clock).revoke_user("u1")
        assert revoked.count == len(user1) == 833
        await published.sync()
        # Every list a token points at is published (and at most one more, reserved ahead and unused yet).
        listed = msgspec.json.decode(published.aggregation)["status_lists"]
        assert set(uris) <= set(listed) and len(listed) <= len(uris) + 1
        for uri in uris:
            built = published.get(uri.rsplit("/", 1)[1])
            assert built is not None
            packed = decode_lst(payload(built.token)["status_list"]["lst"], max_bytes=1 << 20)
            assert len(packed) == 128  # 1024 one-bit statuses
            assert set_bits(packed) == {i for u, i in user1 if u == uri}

        # Past every token's exp, and past any block's window: the lists are gone, their entries purged.
        clock.advance(BLOCK_WINDOW + 60 + settings.leeway + 1)
        await published.sync()
        assert msgspec.json.decode(published.aggregation)["status_lists"] == []
        for uri in uris:
            assert await published.find(uri.rsplit("/", 1)[1]) is True  # 410, not 404
        assert await published.find("neverexisted") is False
        assert await store.purge(int(clock())) == 2500
    finally:
        await runtime.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_held_list_is_re_signed_from_memory_before_it_expires(make_settings: Any) -> None:
    asyncio.run(resigning(make_settings()))


async def resigning(settings: TokenServiceSettings) -> None:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = status_list_store(runtime.db_sessions, settings)
        published = PublishedStatusLists(store, TokenSigner(runtime.current_keys.current), issuer=settings.issuer, ttl=10, clock=clock)
        indices = StatusIndices(store, issuer=settings.issuer, block_size=16, clock=clock)
        await indices.ready()
        list_id = indices.assign(jti="j", client_id="c", user_id=None, family_id=None, expires_at=int(clock()) + 600)["status_list"]["uri"].rsplit("/", 1)[1]
        await indices.flush()
        await published.sync()
        first = published.get(list_id)
        assert first is not None
        # Without the database (as while it is down): only the key in memory is needed.
        clock.advance(TOKEN_LIFETIME // 2 + 1)
        published.resign_due(int(clock()))
        again = published.get(list_id)
        assert again is not None and again.token != first.token and again.etag != first.etag
        assert payload(again.token)["exp"] > payload(first.token)["exp"]
    finally:
        await runtime.close()


def revoked_in(published: PublishedStatusLists, uri: str) -> set[int]:
    built = published.get(uri.rsplit("/", 1)[1])
    assert built is not None
    return set_bits(decode_lst(payload(built.token)["status_list"]["lst"], max_bytes=1 << 20))


def test_a_revocation_is_answered_only_once_the_lists_served_here_show_it(make_settings: Any) -> None:
    asyncio.run(revocation_before_its_answer(make_settings()))


async def revocation_before_its_answer(settings: TokenServiceSettings) -> None:
    # An API that fetches the list right after a revocation must not get, and cache for the
    # list's ttl, the list as it was before (no poll of the publisher runs here).
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        published = published_status_lists(settings, runtime)
        status = build_status(settings, runtime, published)
        assert status is not None
        await status.indices.ready()
        claims = [status.indices.assign(jti=f"j{n}", client_id="c", user_id=None, family_id=None, expires_at=int(clock()) + 600)["status_list"]
                  for n in range(3)]
        await published.sync()  # served before the revocation, the entries still queued
        revoked = await status.revocations.revoke_token("j1")
        assert revoked.count == 1
        assert revoked_in(published, claims[1]["uri"]) == {claims[1]["idx"]}
        # Concurrent revocations share rebuilds; each is still shown once it is answered.
        answered = await asyncio.gather(*(status.revocations.revoke_token(f"j{n}") for n in (0, 2)))
        assert [r.count for r in answered] == [1, 1]
        assert revoked_in(published, claims[0]["uri"]) == {c["idx"] for c in claims}
    finally:
        await runtime.close()
