"""The UserInfo endpoint (OIDC Core §5.3): claims about the user, by the token's scopes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, route
from litestar.datastructures import State

from shared.dpop import ProofPolicy
from shared.dpop.resource import DPoPOptions, RequestAuthenticator
from shared.errors import InsufficientScope, InvalidToken, TokenRejected
from shared.rules import StatusListResolver
from shared.verifier import AccessTokenVerifier
from token_service.clock import Clock
from token_service.dpop.proofs import StoreReplayCache
from token_service.endpoints.responses import NO_STORE, json_response
from token_service.http.errors import ChallengedRejection, route_realm
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.store import EphemeralStore
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.id_token import profile_claims
from token_service.tokens.local_keys import SnapshotKeyResolver
from token_service.users.directory import UserDirectory


def userinfo_verifier(
    own_keys: SnapshotKeyResolver,
    *,
    audience: str,
    leeway: int,
    store: EphemeralStore,
    dpop_policy: ProofPolicy,
    clock: Clock,
    status_lists: StatusListResolver | None = None,
) -> RequestAuthenticator:
    """Bearer or DPoP-bound tokens (RFC 9449), proofs naming the issuer's userinfo URL; proof
    `jti`s are remembered in the shared store, so a replay to another instance fails too."""
    verifier = AccessTokenVerifier(own_keys, issuer=own_keys.issuer, audience=audience, leeway=leeway, clock=clock, status_lists=status_lists)
    dpop = DPoPOptions(public_url=own_keys.issuer, replay=StoreReplayCache(store), policy=dpop_policy)
    return RequestAuthenticator(verifier, dpop, clock=clock)


# Database (the deny list and the user row) for every request: a Bearer request reads
# nothing from the store; a DPoP proof's jti is stored there, and while the store is away
# that request gets the 503 of any backend outage. Rejections carry the challenge of both
# accepted schemes with this route's realm.
@route("/userinfo", http_method=["GET", "POST"], summary="UserInfo (OIDC Core §5.3)", opt=route_opt(backends=("database",), realm="userinfo"))
async def userinfo(
    request: Request[Any, Any, State],
    userinfo_verifier: Injected[RequestAuthenticator],
    denylist: Injected[AccessTokenDenyList],
    users: Injected[UserDirectory],
) -> Response[bytes]:
    try:
        claims = await userinfo_verifier.authenticate(
            authorization=request.headers.getall("authorization", []),
            dpop=request.headers.getall("dpop", []),
            method=request.method,
            path=request.scope["path"],
            token_in_query="access_token" in request.query_params,
        )
        if not claims.has_scopes("openid"):
            raise InsufficientScope(("openid",), granted_scopes=claims.scopes)
        if await denylist.contains(claims.jti):
            raise InvalidToken("the access token has been revoked", rule="revocation")
        user = await users.get(claims.sub)
        if user is None:
            raise InvalidToken("the user of this token no longer exists", rule="subject")
    except TokenRejected as exc:
        raise ChallengedRejection(exc, userinfo_verifier.challenge(exc, realm=route_realm(request))) from None
    body = {"sub": user.id, **profile_claims(user, claims.scopes)}
    return json_response(body, headers=NO_STORE)
