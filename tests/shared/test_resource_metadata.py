"""Protected resource metadata (RFC 9728): the document, where it lives, and every challenge naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from shared import AccessTokenClaims, AccessTokenVerifier, JwksCache, TokenRejected
from shared.dpop.resource import DPoPOptions, RequestAuthenticator
from shared.fastapi import BearerAuth, requires_scope as fastapi_requires_scope
from shared.litestar import BearerAuthPlugin, requires_scope
from shared.resource_metadata import ProtectedResource, metadata_url
from tests.shared.conftest import AUDIENCE
from tests.support.fake_issuer import FakeIssuer

METADATA_URL = f"{AUDIENCE}/.well-known/oauth-protected-resource"
NOTES_SCOPES = ("notes:read", "notes:write")


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://api.example", "https://api.example/.well-known/oauth-protected-resource"),
        ("https://api.example/", "https://api.example/.well-known/oauth-protected-resource"),
        ("https://api.example:8443/mcp", "https://api.example:8443/.well-known/oauth-protected-resource/mcp"),
        ("https://api.example/tenant/mcp/", "https://api.example/.well-known/oauth-protected-resource/tenant/mcp"),
    ],
)
def test_metadata_url_puts_the_well_known_suffix_between_host_and_path(resource: str, url: str) -> None:
    assert metadata_url(resource) == url


@pytest.mark.parametrize("resource", ["urn:notes", "api.example/mcp", "https://api.example/#frag", "ftp://api.example"])
def test_an_identifier_that_is_not_an_http_url_is_refused(resource: str) -> None:
    with pytest.raises(ValueError, match="RFC 9728"):
        ProtectedResource(resource=resource)


def test_document_is_completed_from_the_verifier_and_dpop_options(verifier: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    plain = ProtectedResource(resource_name="Notes API", scopes_supported=NOTES_SCOPES).resolve(RequestAuthenticator(verifier))
    dpop_only = ProtectedResource().resolve(RequestAuthenticator(verifier, DPoPOptions(require=True)))

    assert plain.url == METADATA_URL and plain.path == "/.well-known/oauth-protected-resource"
    assert plain.document() == {
        "resource": AUDIENCE,
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["notes:read", "notes:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes API",
        "dpop_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
    }
    assert dpop_only.document()["dpop_bound_access_tokens_required"] is True
    assert "scopes_supported" not in dpop_only.document() and "resource_name" not in dpop_only.document()


def test_an_unresolved_document_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="resolve"):
        ProtectedResource(resource="https://api.example").document()


async def test_several_audiences_accept_a_token_for_any_of_them(jwks: JwksCache, issuer: FakeIssuer) -> None:
    verifier = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=(f"{AUDIENCE}/mcp", AUDIENCE))

    assert (await verifier.verify(issuer.mint(audience=f"{AUDIENCE}/mcp"))).aud == (f"{AUDIENCE}/mcp",)
    assert (await verifier.verify(issuer.mint(audience=AUDIENCE))).aud == (AUDIENCE,)
    with pytest.raises(TokenRejected) as refused:
        await verifier.verify(issuer.mint(audience="http://billing"))
    assert refused.value.reason == f"audience was ['http://billing'], expected '{AUDIENCE}/mcp' or '{AUDIENCE}'"


@get("/notes", guards=[requires_scope("notes:write")])
async def notes() -> str:
    return "notes"


@pytest.fixture
async def litestar_client(issuer: FakeIssuer) -> AsyncIterator[AsyncTestClient[Any]]:
    jwks = JwksCache(issuer.issuer)
    verifier = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE)
    metadata = ProtectedResource(resource_name="Notes API", scopes_supported=NOTES_SCOPES)
    app = Litestar([notes], plugins=[BearerAuthPlugin(verifier, metadata=metadata)], on_shutdown=[jwks.aclose])
    async with AsyncTestClient(app) as client:
        yield client


async def test_litestar_serves_the_document_without_a_token(litestar_client: AsyncTestClient[Any], issuer: FakeIssuer) -> None:
    response = await litestar_client.get("/.well-known/oauth-protected-resource")

    assert response.status_code == 200
    assert response.json()["resource"] == AUDIENCE and response.json()["authorization_servers"] == [issuer.issuer]
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_litestar_401_and_403_name_the_metadata_in_both_schemes(litestar_client: AsyncTestClient[Any], issuer: FakeIssuer) -> None:
    missing = await litestar_client.get("/notes")
    weak = await litestar_client.get("/notes", headers={"Authorization": f"Bearer {issuer.mint(scope='notes:read')}"})

    assert missing.status_code == 401
    bearer, dpop = missing.headers["www-authenticate"].split(", DPoP ")
    assert bearer.startswith('Bearer error="invalid_token"') and bearer.endswith(f'resource_metadata="{METADATA_URL}"')
    assert dpop.endswith(f'resource_metadata="{METADATA_URL}"')
    assert weak.status_code == 403
    assert f'scope="notes:write", resource_metadata="{METADATA_URL}"' in weak.headers["www-authenticate"]


@pytest.fixture
def fastapi_client(issuer: FakeIssuer) -> Iterator[TestClient]:
    jwks = JwksCache(issuer.issuer)
    verifier = AccessTokenVerifier(jwks, issuer=issuer.issuer, audience=AUDIENCE)
    auth = BearerAuth(verifier, metadata=ProtectedResource(resource_name="Notes API", scopes_supported=NOTES_SCOPES))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await jwks.aclose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(auth.metadata_router())

    @app.post("/notes")
    async def add(claims: AccessTokenClaims = Depends(fastapi_requires_scope(auth, "notes:write"))) -> str:
        return claims.sub

    with TestClient(app) as client:
        yield client


def test_fastapi_serves_the_document_and_names_it_in_challenges(fastapi_client: TestClient, issuer: FakeIssuer) -> None:
    document = fastapi_client.get("/.well-known/oauth-protected-resource")
    missing = fastapi_client.post("/notes")
    weak = fastapi_client.post("/notes", headers={"Authorization": f"Bearer {issuer.mint(scope='notes:read')}"})

    assert document.status_code == 200 and document.json()["scopes_supported"] == list(NOTES_SCOPES)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].count(f'resource_metadata="{METADATA_URL}"') == 2
    assert weak.status_code == 403
    assert 'error="insufficient_scope"' in weak.headers["www-authenticate"]
    assert f'resource_metadata="{METADATA_URL}"' in weak.headers["www-authenticate"]


def test_fastapi_metadata_router_needs_metadata(verifier: AccessTokenVerifier) -> None:
    auth = BearerAuth(verifier)
    with pytest.raises(ValueError, match="metadata=ProtectedResource"):
        auth.metadata_router()
