"""Token introspection (RFC 7662) for resource servers that authenticate as confidential clients."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State

from token_service.clients.authentication import read_credentials
from token_service.endpoints.responses import no_store_json
from token_service.errors import InvalidClient, InvalidRequest
from token_service.http.forms import read_form
from token_service.runtime import Runtime
from token_service.tokens.issued import IssuedTokens


@post("/introspect", status_code=200, summary="Token introspection (RFC 7662)")
async def introspect(request: Request[Any, Any, State], state: State) -> Response[bytes]:
    runtime: Runtime = state.runtime
    issued: IssuedTokens = state.issued_tokens
    params = await read_form(request)
    credentials = read_credentials(request.headers.get("authorization"), params)
    client = await runtime.client_auth.authenticate(credentials)
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
    return no_store_json(await issued.introspect(token, client, params.get("token_type_hint")))
