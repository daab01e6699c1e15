"""Token introspection (RFC 7662) for resource servers that authenticate as confidential clients."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State

from token_service.clients.authentication import ClientAuthenticator, read_credentials, single_authorization
from token_service.endpoints.responses import no_store_json
from token_service.errors import InvalidClient, InvalidRequest
from token_service.http.forms import read_form
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.tokens.issued import IssuedTokens


# Database only (clients, refresh tokens, deny list): a store outage must not blind the
# resource servers that introspect.
@post("/introspect", status_code=200, summary="Token introspection (RFC 7662)", opt=route_opt(backends=("database",)))
async def introspect(
    request: Request[Any, Any, State], client_auth: Injected[ClientAuthenticator], issued_tokens: Injected[IssuedTokens]
) -> Response[bytes]:
    params = await read_form(request)
    credentials = read_credentials(single_authorization(request.headers.getall("authorization", [])), params)
    client = await client_auth.authenticate(credentials)
    # RFC 7662 §2.1 requires authorization of the caller to prevent token scanning
    # (§4); a public client has no secret, so anyone could call in its name.
    if client.public:
        raise InvalidClient(
            "introspection requires a confidential client authenticating with its secret or a key; public clients cannot introspect",
            used_basic=credentials.method == "client_secret_basic",
        )
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required (RFC 7662 §2.1)")
    return no_store_json(await issued_tokens.introspect(token, client, params.get("token_type_hint")))
