"""The UserInfo endpoint (OIDC Core §5.3): claims about the user, by the token's scopes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, route
from litestar.datastructures import State

from shared.bearer import bearer_token_from
from shared.errors import InvalidToken
from shared.verifier import AccessTokenVerifier
from token_service.clock import Clock
from token_service.endpoints.responses import NO_STORE, json_response
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.id_token import profile_claims
from token_service.tokens.local_keys import SnapshotKeyResolver
from token_service.users.directory import UserDirectory


def userinfo_verifier(own_keys: SnapshotKeyResolver, *, audience: str, leeway: int, clock: Clock) -> AccessTokenVerifier:
    return AccessTokenVerifier(own_keys, issuer=own_keys.issuer, audience=audience, leeway=leeway, clock=clock)


# Database only (the deny list and the user row): the store holds nothing userinfo reads.
# Rejections (TokenRejected) go through the error registry, which adds the RFC 6750
# WWW-Authenticate challenge with this route's realm.
@route("/userinfo", http_method=["GET", "POST"], summary="UserInfo (OIDC Core §5.3)", opt=route_opt(backends=("database",), realm="userinfo"))
async def userinfo(
    request: Request[Any, Any, State],
    userinfo_verifier: Injected[AccessTokenVerifier],
    denylist: Injected[AccessTokenDenyList],
    users: Injected[UserDirectory],
) -> Response[bytes]:
    token = bearer_token_from(request.headers.getall("authorization", []), token_in_query="access_token" in request.query_params)
    claims = await userinfo_verifier.verify(token, required_scopes=("openid",))
    if await denylist.contains(claims.jti):
        raise InvalidToken("the access token has been revoked", rule="revocation")
    user = await users.get(claims.sub)
    if user is None:
        raise InvalidToken("the user of this token no longer exists", rule="subject")
    body = {"sub": user.id, **profile_claims(user, claims.scopes)}
    return json_response(body, headers=NO_STORE)
