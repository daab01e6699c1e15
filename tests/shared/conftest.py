from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from joserfc.jwk import RSAKey

from shared import AccessTokenVerifier, JwksCache
from tests.support.clock import FakeClock
from tests.support.fake_issuer import FakeIssuer, generate_key, running_issuer

AUDIENCE = "http://api.test"


@pytest.fixture(scope="session")
def key1() -> RSAKey:
    return generate_key("k1")


@pytest.fixture(scope="session")
def key2() -> RSAKey:
    return generate_key("k2")


@pytest.fixture
def issuer(key1: RSAKey) -> Iterator[FakeIssuer]:
    with running_issuer([key1]) as (fake, _):
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def jwks(issuer: FakeIssuer, clock: FakeClock) -> AsyncIterator[JwksCache]:
    cache = JwksCache(issuer.issuer, clock=clock, min_ttl=60, unknown_kid_cooldown=30)
    yield cache
    await cache.aclose()


@pytest.fixture
def verifier(jwks: JwksCache, issuer: FakeIssuer) -> AccessTokenVerifier:
    return AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE)
