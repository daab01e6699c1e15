from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared import AccessTokenVerifier, JwksCache
from tests.support.clock import FakeClock
from tests.support.fake_issuer import FakeIssuer
from tests.support.issuer_fixtures import issuer, key1, key2

__all__ = ["AUDIENCE", "issuer", "key1", "key2"]

AUDIENCE = "http://api.test"


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
