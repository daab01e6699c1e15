"""A FastAPI service that accepts the token service's access tokens (docs/resource-server-python.md).

Run it:  ISSUER=http://127.0.0.1:8000 AUDIENCE=http://127.0.0.1:8002 \
         uvicorn --factory fastapi_app:app_from_environment --port 8002
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from shared import AccessTokenClaims, AccessTokenVerifier, JwksCache
from shared.fastapi import BearerAuth, requires_scope
from shared.resource_metadata import ProtectedResource


def create_app(issuer: str, audience: str) -> FastAPI:
    # issuer: exactly the `iss` of the tokens (the token service's TOKEN_SERVICE_ISSUER).
    # audience: this API's own public URL, the `aud` its tokens are minted for.
    jwks = JwksCache(issuer)  # finds jwks_uri by discovery, caches keys, follows rotation
    # RFC 9728: the API describes itself (which token service, which scopes); every 401 points there.
    metadata = ProtectedResource(resource_name="Reports API", scopes_supported=("reports:read",))
    auth = BearerAuth(AccessTokenVerifier(jwks, issuer=issuer, audience=audience), metadata=metadata)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await jwks.aclose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(auth.metadata_router())  # GET /.well-known/oauth-protected-resource

    @app.get("/me")
    async def me(claims: AccessTokenClaims = Depends(auth)) -> dict[str, Any]:
        return {"sub": claims.sub, "scope": sorted(claims.scopes)}

    @app.get("/reports")
    async def reports(claims: AccessTokenClaims = Depends(requires_scope(auth, "reports:read"))) -> dict[str, Any]:
        return {"owner": claims.sub, "reports": []}

    return app


def app_from_environment() -> FastAPI:
    # Read when uvicorn builds the app (--factory), not at import time.
    return create_app(os.environ["ISSUER"], os.environ["AUDIENCE"])
