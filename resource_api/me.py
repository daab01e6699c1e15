"""`GET /me`: the verified claims a client usually wants to show."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from shared import AccessTokenClaims
from shared.dpop.resource import bound_key_of

__all__ = ["me"]


@get("/me", tags=["me"])
async def me(claims: NamedDependency[AccessTokenClaims]) -> dict[str, str]:
    body = {"sub": claims.sub, "client_id": claims.client_id, "scope": claims.scope}
    if claims.email is not None:
        body["email"] = claims.email
    jkt = bound_key_of(claims.raw)
    if jkt is not None:  # a DPoP-bound token (RFC 9449 §6.1): the key it is bound to
        body["dpop_jkt"] = jkt
    return body
