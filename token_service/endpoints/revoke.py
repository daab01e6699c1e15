"""Token revocation (RFC 7009): a client ends a refresh token's grant or an access token early."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State

from token_service.clients.authentication import ClientAuthenticator, read_credentials, single_authorization
from token_service.endpoints.responses import NO_STORE
from token_service.errors import InvalidRequest
from token_service.http.forms import read_form
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.tokens.issued import IssuedTokens


# Clients, refresh tokens and the deny list are database rows; the store is never touched,
# so a store outage must not stop revocation.
@post("/revoke", status_code=200, summary="Token revocation (RFC 7009)", opt=route_opt(backends=("database",)))
async def revoke(request: Request[Any, Any, State], client_auth: Injected[ClientAuthenticator], issued_tokens: Injected[IssuedTokens]) -> Response[bytes]:
    params = await read_form(request)
    # RFC 7009 §2.1: confidential clients authenticate; a public client identifies itself
    # with client_id and may revoke only its own tokens.
    client = await client_auth.authenticate(read_credentials(single_authorization(request.headers.getall("authorization", [])), params))
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required (RFC 7009 §2.1)")
    await issued_tokens.revoke(token, client, params.get("token_type_hint"))
    # RFC 7009 §2.2: 200 whether or not anything was revoked; an invalid token is no error.
    return Response(content=b"", status_code=200, headers=NO_STORE)
