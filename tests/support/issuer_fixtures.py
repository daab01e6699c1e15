"""Fixtures for suites that need a running fake issuer: import them into a conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc.jwk import RSAKey

from tests.support.fake_issuer import FakeIssuer, generate_key, running_issuer

__all__ = ["issuer", "key1", "key2"]


@pytest.fixture(scope="session")
def key1() -> RSAKey:
    """The issuer's signing key (kid k1); generated once, RSA generation is slow."""
    return generate_key("k1")


@pytest.fixture(scope="session")
def key2() -> RSAKey:
    """A second key (kid k2): unpublished unless a test publishes it."""
    return generate_key("k2")


@pytest.fixture
def issuer(key1: RSAKey) -> Iterator[FakeIssuer]:
    with running_issuer([key1]) as (fake, _):
        yield fake
