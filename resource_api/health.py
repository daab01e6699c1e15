"""`/healthz` (the process answers) and `/readyz` (it can check tokens: JWKS loaded)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from shared import JwksCache
from shared.litestar import EXCLUDE_FROM_AUTH

__all__ = ["healthz", "readyz"]

_PUBLIC = {EXCLUDE_FROM_AUTH: True}


@get("/healthz", opt=_PUBLIC, tags=["operations"], cache_control=None)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", opt=_PUBLIC, tags=["operations"])
async def readyz(jwks: NamedDependency[JwksCache]) -> Response[dict[str, Any]]:
    status = jwks.status()
    if status.loaded:
        return Response({"status": "ready", "issuer": status.issuer, "kids": list(status.key_ids)})
    reason = status.last_error or "the issuer's JWKS has not been loaded yet"
    return Response({"status": "not_ready", "issuer": status.issuer, "reason": reason}, status_code=503)
