"""The FastAPI dependency answers like the Litestar integration does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from shared import AccessTokenClaims, AccessTokenVerifier, JwksCache
from shared.fastapi import BearerAuth, requires_scope
from tests.shared.conftest import AUDIENCE
from tests.support.fake_issuer import FakeIssuer


@pytest.fixture
def api(issuer: FakeIssuer) -> Iterator[TestClient]:
    jwks = JwksCache(issuer.issuer)
    verifier = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE)
    auth = BearerAuth(verifier, realm="notes")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await jwks.aclose()  # on the app's event loop, where its connections live

    app = FastAPI(lifespan=lifespan)

    @app.get("/me")
    async def me(claims: AccessTokenClaims = Depends(auth)) -> dict[str, Any]:
        return {"sub": claims.sub}

    @app.post("/notes")
    async def add(claims: AccessTokenClaims = Depends(requires_scope(auth, "notes:write"))) -> dict[str, Any]:
        return {"sub": claims.sub}

    with TestClient(app) as client:
        yield client


def test_valid_token_reaches_the_handler(api: TestClient, issuer: FakeIssuer) -> None:
    response = api.get("/me", headers={"Authorization": f"Bearer {issuer.mint(sub='bob')}"})

    assert response.status_code == 200
    assert response.json() == {"sub": "bob"}


def test_missing_token_is_401_with_invalid_token_challenge(api: TestClient) -> None:
    response = api.get("/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="notes", error="invalid_token", error_description="the request has no access token')


def test_bad_token_is_401_with_the_reason(api: TestClient, issuer: FakeIssuer) -> None:
    response = api.get("/me", headers={"Authorization": f"Bearer {issuer.mint(audience='other')}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f"Bearer realm=\"notes\", error=\"invalid_token\", error_description=\"audience was ['other'], expected '{AUDIENCE}'\", "
        # RFC 9449 §7.2: the API also accepts DPoP, so it offers that scheme too.
        'DPoP realm="notes", algs="ES256 RS256 PS256 EdDSA"'
    )
    assert response.json()["detail"]["error"] == "invalid_token"


def test_missing_scope_is_403_naming_it(api: TestClient, issuer: FakeIssuer) -> None:
    response = api.post("/notes", headers={"Authorization": f"Bearer {issuer.mint(scope='notes:read')}"})

    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer realm="notes", error="insufficient_scope"')
    assert 'scope="notes:write", DPoP realm="notes", algs=' in response.headers["www-authenticate"]
    assert response.json()["detail"]["error"] == "insufficient_scope"


def test_token_in_query_is_400(api: TestClient, issuer: FakeIssuer) -> None:
    response = api.get("/me", params={"access_token": issuer.mint()})
    assert response.status_code == 400


def test_dpop_bound_token_with_its_proof_is_accepted_and_as_bearer_refused(api: TestClient, issuer: FakeIssuer) -> None:
    from shared.dpop import DPoPKey

    key = DPoPKey.generate("EdDSA")
    token = issuer.mint(sub="bob", cnf={"jkt": key.jkt})
    # htu is the API's public URL (the audience's origin), whatever Host the client sent.
    proof = key.proof("GET", f"{AUDIENCE}/me", access_token=token)

    accepted = api.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    as_bearer = api.get("/me", headers={"Authorization": f"Bearer {token}"})
    replayed = api.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof})

    assert accepted.status_code == 200, accepted.text
    assert as_bearer.status_code == 401 and "DPoP-bound" in as_bearer.json()["detail"]["error_description"]
    assert replayed.status_code == 401
    assert replayed.headers["www-authenticate"].startswith('Bearer realm="notes", DPoP realm="notes", error="invalid_dpop_proof"')
