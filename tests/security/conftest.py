from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from litestar.testing import AsyncTestClient

from resource_api.app import create_app
from resource_api.settings import ResourceApiSettings
from shared import AccessTokenVerifier, JwksCache
from tests.security.attacker import AttackerServer, running_attacker
from tests.security.forgery import AUDIENCE, Forge
from tests.security.requests import Target, add_clients
from tests.support.fake_issuer import FakeIssuer, generate_key, running_issuer
from tests.support.issuer_fixtures import key1, key2
from tests.support.password_login import LoginSetup, browser, setup

__all__ = ["browser", "key1", "key2", "setup"]


@pytest.fixture(scope="session")
def stranger_key() -> RSAKey:
    return generate_key("attacker")


@pytest.fixture
def attacker() -> Iterator[AttackerServer]:
    with running_attacker() as server:
        yield server


@pytest.fixture
def two_key_issuer(key1: RSAKey, key2: RSAKey) -> Iterator[FakeIssuer]:
    """An issuer publishing two keys, so a token without kid is ambiguous."""
    with running_issuer([key1, key2]) as (fake, _):
        yield fake


@pytest.fixture
def forge(two_key_issuer: FakeIssuer, key1: RSAKey, stranger_key: RSAKey, attacker: AttackerServer) -> Forge:
    return Forge(fake=two_key_issuer, ours=key1, stranger=stranger_key, attacker_url=attacker.url)


@pytest.fixture
async def strict_verifier(two_key_issuer: FakeIssuer) -> AsyncIterator[AccessTokenVerifier]:
    """The shared verifier as the resource API builds it, with no leeway so exp == now is expired."""
    jwks = JwksCache(two_key_issuer.issuer)
    yield AccessTokenVerifier(jwks, issuer=two_key_issuer.issuer, audience=AUDIENCE, leeway=0)
    await jwks.aclose()


@pytest.fixture
async def resource_api(two_key_issuer: FakeIssuer, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = ResourceApiSettings(
        issuer=two_key_issuer.issuer,
        audience=AUDIENCE,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/notes.db",
        leeway=0,
    )
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def target(setup: LoginSetup) -> Target:
    return add_clients(setup)
