"""The Litestar plugin: who needs a token, and how refusals look."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from shared import AccessTokenClaims, AccessTokenVerifier, JwksCache
from tests.shared.conftest import AUDIENCE
from shared.litestar import EXCLUDE_FROM_AUTH, BearerAuthPlugin, requires_scope
from tests.support.fake_issuer import FakeIssuer

Client = AsyncTestClient[Any]


@get("/open", opt={EXCLUDE_FROM_AUTH: True})
async def open_route() -> str:
    return "open"


@get("/public/page")
async def public_page() -> str:
    return "page"


@get("/public/needs-claims")
async def public_but_wants_claims(claims: NamedDependency[AccessTokenClaims]) -> str:
    return claims.sub


@get("/admin", guards=[requires_scope("admin", "notes:read")])
async def admin(claims: NamedDependency[AccessTokenClaims]) -> str:
    return claims.sub


@pytest.fixture
async def client(issuer: FakeIssuer) -> AsyncIterator[Client]:
    # The cache belongs to the app: the test client runs the app on its own event loop.
    jwks = JwksCache(issuer.issuer)
    verifier = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE)
    app = Litestar(
        [open_route, public_page, public_but_wants_claims, admin],
        plugins=[BearerAuthPlugin(verifier, exclude=["^/public/"], realm="example")],
        on_shutdown=[jwks.aclose],
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_routes_marked_public_or_excluded_need_no_token(client: Client) -> None:
    assert (await client.get("/open")).text == "open"
    assert (await client.get("/public/page")).text == "page"


async def test_exclusion_is_anchored(client: Client) -> None:
    # "^/public/" must not also open /admin/public/... style paths.
    assert (await client.get("/admin")).status_code == 401


async def test_handler_asking_for_claims_on_a_public_route_gets_401(client: Client) -> None:
    response = await client.get("/public/needs-claims")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="example", error="invalid_token"')


async def test_guard_requires_every_scope(client: Client, issuer: FakeIssuer) -> None:
    partial = await client.get("/admin", headers={"Authorization": f"Bearer {issuer.mint(scope='notes:read')}"})
    full = await client.get("/admin", headers={"Authorization": f"Bearer {issuer.mint(scope='notes:read admin')}"})

    assert partial.status_code == 403
    assert partial.headers["www-authenticate"] == (
        'Bearer realm="example", error="insufficient_scope", '
        "error_description=\"the token lacks scope 'admin' (it has: notes:read)\", scope=\"admin notes:read\", "
        'DPoP realm="example", algs="ES256 RS256 PS256 EdDSA"'
    )
    assert full.status_code == 200
    assert full.text == "user-1"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer a.b.c",
        "Bearer " + "A" * 20000,
        "Bearer ..",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
        "Bearer eyJ0eXAiOiJhdCtqd3QifQ.e30.AAAA",
        "Bearer WyJhbGciXQ.e30.AAAA",
        "Bearer bnVsbA.bnVsbA.bnVsbA",
        "Bearer \u00e9t\u00e9".encode("latin-1"),
        "Token abc",
        "",
    ],
)
async def test_garbage_credentials_never_cause_a_500(client: Client, authorization: str | bytes) -> None:
    response = await client.get("/admin", headers={"Authorization": authorization})

    assert response.status_code in {400, 401}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert set(response.json()) >= {"error", "error_description"}
