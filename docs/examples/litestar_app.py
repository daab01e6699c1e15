"""A Litestar service that accepts the token service's access tokens (docs/resource-server-python.md).

Run it:  ISSUER=http://127.0.0.1:8000 AUDIENCE=http://127.0.0.1:8002 \
         uvicorn --factory litestar_app:app_from_environment --port 8002
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, get
from litestar.di import NamedDependency

from shared import AccessTokenClaims, AccessTokenVerifier, JwksCache
from shared.litestar import EXCLUDE_FROM_AUTH, BearerAuthPlugin, requires_scope
from shared.resource_metadata import ProtectedResource


@get("/me")
async def me(claims: NamedDependency[AccessTokenClaims]) -> dict[str, Any]:
    return {"sub": claims.sub, "scope": sorted(claims.scopes)}


@get("/reports", guards=[requires_scope("reports:read")])
async def reports(claims: NamedDependency[AccessTokenClaims]) -> dict[str, Any]:
    return {"owner": claims.sub, "reports": []}


@get("/healthz", opt={EXCLUDE_FROM_AUTH: True})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_app(issuer: str, audience: str) -> Litestar:
    # issuer: exactly the `iss` of the tokens (the token service's TOKEN_SERVICE_ISSUER).
    # audience: this API's own public URL, the `aud` its tokens are minted for.
    jwks = JwksCache(issuer)

    @asynccontextmanager
    async def close_jwks(_: Litestar) -> AsyncIterator[None]:
        yield
        await jwks.aclose()

    verifier = AccessTokenVerifier(jwks, issuer=issuer, audience=audience)
    # RFC 9728: served at /.well-known/oauth-protected-resource and named in every 401/403.
    metadata = ProtectedResource(resource_name="Reports API", scopes_supported=("reports:read",))
    return Litestar([me, reports, healthz], plugins=[BearerAuthPlugin(verifier, metadata=metadata)], lifespan=[close_jwks])


def app_from_environment() -> Litestar:
    return create_app(os.environ["ISSUER"], os.environ["AUDIENCE"])
