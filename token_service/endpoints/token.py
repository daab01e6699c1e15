"""The token endpoint (RFC 6749 §3.2): authenticate the client, dispatch on grant_type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request, post
from litestar.datastructures import State
from litestar.response.base import ASGIResponse

from token_service.clients.authentication import ClientAuthenticator, read_credentials, single_authorization
from token_service.clients.registry import ClientRegistry
from token_service.dpop.proofs import TokenRequestProofs
from token_service.endpoints.responses import NO_STORE, encode_json
from token_service.errors import InvalidRequest, SlowDown, UnauthorizedClient, UnsupportedGrantType, echo
from token_service.grants.issuance import Grant
from token_service.http.direct import DirectRoute
from token_service.http.forms import read_form
from token_service.http.headers import request_header
from token_service.observability.access import note_request
from token_service.observability.metrics import TokenServiceMetrics
from token_service.ratelimit import TokenLimits
from token_service.status import StatusIndices

# The grant types this service implements, by name; the composition root builds one Grant
# for each (app.py `build_grants`) and discovery lists them.
Grants = dict[str, Grant]


@dataclass(frozen=True)
class TokenEndpointServices:
    """What the token endpoint uses, handed to the route when the app is built (`token_route`).

    Not a Litestar dependency: resolving even one named dependency costs every request the
    framework's kwargs model (about 3 % of the instructions a token request runs beside its
    signature, counted with callgrind). Two or more are worse, resolved concurrently in an
    anyio task group: about 150 µs of CPU for five, more than half an RSA signature.
    """

    client_auth: ClientAuthenticator
    token_limits: TokenLimits
    grants: Grants
    metrics: TokenServiceMetrics
    dpop_proofs: TokenRequestProofs
    clients: ClientRegistry
    status_indices: StatusIndices | None


def token_route(services_of: Callable[[], TokenEndpointServices]) -> DirectRoute:
    """The token endpoint's route; `services_of` gives the running app's services (none before start-up).

    A direct route (http/direct.py): `POST /token` is answered by `answer` straight from
    the ASGI entry point; the Litestar handler serves the same function to everything else.
    """

    async def answer(request: Request[Any, Any, Any]) -> bytes:
        return encode_json(await issue(request, services_of()))

    @post("/token", status_code=200, include_in_schema=True, summary="Token endpoint (RFC 6749 §3.2)")
    async def token_endpoint(request: Request[Any, Any, State]) -> ASGIResponse:
        return ASGIResponse(body=await answer(request), status_code=200, media_type="application/json", headers=NO_STORE)

    return DirectRoute(token_endpoint, answer)


async def issue(request: Request[Any, Any, Any], services: TokenEndpointServices) -> dict[str, Any]:
    """The token response's members (RFC 6749 §5.1), or a typed error raised."""
    client_auth, token_limits, grants, metrics = services.client_auth, services.token_limits, services.grants, services.metrics
    dpop_proofs, clients, status_indices = services.dpop_proofs, services.clients, services.status_indices
    params = await read_form(request)
    credentials = read_credentials(single_authorization(request_header(request.scope, b"authorization")), params)
    client = await client_auth.authenticate(credentials)
    wait = await token_limits.check(client.client_id)
    if wait is not None:
        raise SlowDown(f"too many token requests for client {client.client_id!r}; retry in {wait} s", retry_after=wait)
    note_request(client_id=client.client_id)
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    grant = grants.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {echo(grant_type)} is not supported; supported: {', '.join(sorted(grants))}")
    note_request(grant_type=grant_type)
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"client {client.client_id!r} is not registered for grant_type {echo(grant_type)}")
    dpop_jkt = await dpop_proofs.key_of(request_header(request.scope, b"dpop"), client)
    if status_indices is None:
        body = await grant(client, params, dpop_jkt=dpop_jkt)
    else:
        await status_indices.hold()
        try:
            body = await grant(client, params, dpop_jkt=dpop_jkt)
        finally:
            status_indices.release()
    metrics.token_issued(grant_type, client.client_id)
    # A dynamic client's first token: it is in use, and its open registration no longer expires.
    await clients.note_token_issued(client)
    return body
