"""The JWKS cache against a real HTTP issuer: how often it fetches, and what it serves."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from joserfc.jwk import ECKey, RSAKey

from shared import AccessTokenVerifier, InvalidToken, IssuerMismatch, JwksCache, KeySetUnavailable, TokenRejected
from tests.support.clock import FakeClock
from tests.support.fake_issuer import FakeIssuer, running_issuer
from tests.support.live_server import free_port


async def test_concurrent_cold_verifications_share_one_fetch(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    tokens = [issuer.mint(sub=f"user-{i}") for i in range(50)]

    results = await asyncio.gather(*(verifier.verify(t) for t in tokens))

    assert [c.sub for c in results] == [f"user-{i}" for i in range(50)]
    assert issuer.discovery_requests == 1
    assert issuer.jwks_requests == 1


async def test_flood_of_unknown_kids_refetches_once_per_cooldown(
    verifier: AccessTokenVerifier, jwks: JwksCache, issuer: FakeIssuer, key2: RSAKey, clock: FakeClock
) -> None:
    await jwks.ensure_loaded()
    forged = [issuer.mint(key=key2, header={"kid": uuid.uuid4().hex}) for _ in range(100)]

    first = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    for token in forged:  # and the same again, one after another
        with pytest.raises(InvalidToken):
            await verifier.verify(token)

    assert all(isinstance(r, InvalidToken) and r.rule == "kid" for r in first)
    assert issuer.jwks_requests == 2  # the initial load plus one refetch

    clock.advance(30)
    await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert issuer.jwks_requests == 3
    assert jwks.fetch_count == 3


async def test_key_published_after_load_is_found_by_the_unknown_kid_refetch(
    verifier: AccessTokenVerifier, jwks: JwksCache, issuer: FakeIssuer, key1: RSAKey, key2: RSAKey
) -> None:
    await jwks.ensure_loaded()
    issuer.published_keys = [key1, key2]
    issuer.etag = '"v2"'

    claims = await verifier.verify(issuer.mint(key=key2))

    assert claims.sub == "user-1"
    assert jwks.has_key("k2")
    assert issuer.jwks_requests == 2


async def test_revalidation_sends_etag_and_handles_304(jwks: JwksCache, issuer: FakeIssuer, clock: FakeClock) -> None:
    key_before = await jwks.get_key("k1")

    clock.advance(280)  # past the refresh-ahead point of max-age=300, before expiry
    assert await jwks.get_key("k1") is key_before  # served at once, revalidated behind
    assert jwks.pending_refresh is not None
    await jwks.pending_refresh

    assert issuer.jwks_requests == 2
    assert issuer.jwks_not_modified == 1
    assert jwks.not_modified_count == 1
    assert await jwks.get_key("k1") is key_before
    status = jwks.status()
    assert status.expires_in == 300  # the 304 restarted the max-age
    assert status.last_error is None


async def test_key_objects_are_reused_when_a_refetch_returns_the_same_key(
    jwks: JwksCache, issuer: FakeIssuer, clock: FakeClock
) -> None:
    issuer.etag = None  # every fetch is a full 200
    key_before = await jwks.get_key("k1")

    clock.advance(301)
    await jwks.get_key("k1")
    assert jwks.pending_refresh is not None
    await jwks.pending_refresh

    assert issuer.jwks_requests == 2
    assert await jwks.get_key("k1") is key_before


async def test_failing_issuer_keeps_serving_the_last_good_keys_until_max_stale(
    verifier: AccessTokenVerifier,
    jwks: JwksCache,
    issuer: FakeIssuer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await jwks.ensure_loaded()
    issuer.jwks_status = 500
    clock.advance(400)  # past max-age

    with caplog.at_level(logging.WARNING, logger="shared.jwks"):
        assert (await verifier.verify(issuer.mint())).sub == "user-1"
        assert jwks.pending_refresh is not None
        with pytest.raises(KeySetUnavailable):
            await jwks.pending_refresh

    assert issuer.jwks_requests == 2
    assert jwks.is_loaded
    assert "serving the previous key set" in caplog.text
    assert "answered HTTP 500" in (jwks.last_error or "")
    assert (await verifier.verify(issuer.mint())).sub == "user-1"

    clock.advance(86400)  # beyond max_stale: the old keys are no longer trusted
    with pytest.raises(KeySetUnavailable, match="answered HTTP 500"):
        await verifier.verify(issuer.mint())
    assert not jwks.is_loaded


async def test_unreachable_issuer_is_not_asked_again_within_the_backoff(clock: FakeClock) -> None:
    cache = JwksCache(f"http://127.0.0.1:{free_port()}", clock=clock, error_backoff=2)
    try:
        for _ in range(5):
            with pytest.raises(KeySetUnavailable, match="could not reach"):
                await cache.get_key("k1")
        assert cache.fetch_count == 0  # discovery failed, the JWKS was never requested
        assert cache.status().last_error is not None
    finally:
        await cache.aclose()


async def test_discovery_naming_another_issuer_is_refused(issuer: FakeIssuer, jwks: JwksCache) -> None:
    issuer.discovery_issuer = issuer.issuer.replace("127.0.0.1", "localhost")

    with pytest.raises(IssuerMismatch) as caught:
        await jwks.ensure_loaded()

    assert f"names issuer '{issuer.discovery_issuer}'" in caught.value.reason
    assert f"configured issuer is '{issuer.issuer}'" in caught.value.reason
    assert issuer.jwks_requests == 0


async def test_discovery_falls_back_to_oauth_authorization_server_metadata(
    issuer: FakeIssuer, jwks: JwksCache
) -> None:
    issuer.oidc_discovery = False

    await jwks.ensure_loaded()

    assert jwks.is_loaded
    assert jwks.jwks_uri == f"{issuer.issuer}/jwks"


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [("max-age=1", 60), ("public, max-age=600", 600), ("max-age=999999999", 86400), ("no-store", 60), (None, 300)],
)
async def test_max_age_is_honoured_within_bounds(
    issuer: FakeIssuer, jwks: JwksCache, cache_control: str | None, ttl: float
) -> None:
    issuer.cache_control = cache_control

    await jwks.ensure_loaded()

    assert jwks.status().expires_in == ttl


async def test_only_public_rsa_signing_keys_are_accepted(issuer: FakeIssuer, jwks: JwksCache, key2: RSAKey) -> None:
    issuer.extra_jwks_entries = [
        key2.as_dict(private=True, kid="leaked"),
        key2.as_dict(private=False, kid="for-encryption", use="enc"),
        ECKey.generate_key("P-256", parameters={"kid": "ec"}).as_dict(private=False),
        {"kty": "RSA", "kid": "garbage", "n": "!!", "e": "AQAB"},
    ]

    await jwks.ensure_loaded()

    assert jwks.key_ids == ("k1",)
    with pytest.raises(InvalidToken, match="kid 'leaked' is not in the JWKS"):
        await jwks.get_key("leaked")


async def test_token_without_kid_is_accepted_only_for_a_single_key_set(
    key1: RSAKey, key2: RSAKey, clock: FakeClock
) -> None:
    with running_issuer([key1, key2]) as (issuer, _):
        cache = JwksCache(issuer.issuer, clock=clock)
        verifier = AccessTokenVerifier(cache, issuer=issuer.issuer, audience="http://api.test")
        try:
            with pytest.raises(TokenRejected) as caught:
                await verifier.verify(issuer.mint(header={"kid": FakeIssuer.DELETE}))
            assert caught.value.rule == "kid"
            assert "has no kid header" in caught.value.reason

            issuer.published_keys = [key1]
            issuer.etag = '"one-key"'
            clock.advance(400)
            await cache.refresh()
            assert (await verifier.verify(issuer.mint(header={"kid": FakeIssuer.DELETE}))).sub == "user-1"
        finally:
            await cache.aclose()


async def test_keep_fresh_loads_in_the_background(issuer: FakeIssuer) -> None:
    cache = JwksCache(issuer.issuer)
    task = asyncio.create_task(cache.keep_fresh())
    try:
        while not cache.is_loaded:
            await asyncio.sleep(0.01)
        assert cache.key_ids == ("k1",)
    finally:
        task.cancel()
        await cache.aclose()
