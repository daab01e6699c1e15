"""The UserInfo endpoint (OIDC Core §5.3): claims about the user, by the token's scopes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, route
from litestar.datastructures import State

from shared.dpop.resource import DPoPOptions, RequestAuthenticator
from shared.errors import InsufficientScope, InvalidToken, TokenRejected
from shared.verifier import AccessTokenVerifier
from token_service.dpop.proofs import StoreReplayCache
from token_service.endpoints.responses import NO_STORE, json_response
from token_service.runtime import Runtime
from token_service.tokens.id_token import profile_claims
from token_service.tokens.local_keys import SnapshotKeyResolver


def userinfo_audience(runtime: Runtime) -> str:
    return runtime.settings.endpoint("/userinfo")


def userinfo_verifier(runtime: Runtime) -> RequestAuthenticator:
    """Bearer or DPoP-bound tokens (RFC 9449), proofs naming the issuer's userinfo URL."""
    resolver = SnapshotKeyResolver(runtime.settings.issuer, runtime.current_snapshot)
    verifier = AccessTokenVerifier(resolver, issuer=runtime.settings.issuer, audience=userinfo_audience(runtime), leeway=runtime.settings.leeway)
    dpop = DPoPOptions(public_url=runtime.settings.issuer, replay=StoreReplayCache(runtime.store), policy=runtime.dpop.policy)
    return RequestAuthenticator(verifier, dpop)


def rejected(exc: TokenRejected, auth: RequestAuthenticator) -> Response[bytes]:
    return json_response(
        {"error": exc.error, "error_description": exc.reason},
        status_code=exc.status_code,
        headers={**NO_STORE, "WWW-Authenticate": auth.challenge(exc, realm="userinfo")},
    )


@route("/userinfo", http_method=["GET", "POST"], summary="UserInfo (OIDC Core §5.3)")
async def userinfo(request: Request[Any, Any, State], state: State) -> Response[bytes]:
    runtime: Runtime = state.runtime
    auth: RequestAuthenticator = state.userinfo_verifier
    try:
        claims = await auth.authenticate(
            authorization=request.headers.getall("authorization", []),
            dpop=request.headers.getall("dpop", []),
            method=request.method,
            path=request.scope["path"],
            token_in_query="access_token" in request.query_params,
        )
        if not claims.has_scopes("openid"):
            raise InsufficientScope(("openid",), granted_scopes=claims.scopes)
        if await runtime.denylist.contains(claims.jti):
            raise InvalidToken("the access token has been revoked", rule="revocation")
        user = await runtime.users.get(claims.sub)
        if user is None:
            raise InvalidToken("the user of this token no longer exists", rule="subject")
    except TokenRejected as exc:
        return rejected(exc, auth)
    body = {"sub": user.id, **profile_claims(user, claims.scopes)}
    return json_response(body, headers=NO_STORE)
