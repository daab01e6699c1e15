"""The registration endpoint (RFC 7591 §3) and the client configuration endpoint (RFC 7592 §2)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath

from shared.errors import TokenRejected
from token_service.endpoints.responses import no_store_json
from token_service.errors import InvalidClientMetadataError, SlowDown
from token_service.http.client_address import client_ip
from token_service.http.errors import ChallengedRejection, route_realm
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.ratelimit import RegistrationLimits
from token_service.registration.service import ClientRegistrar

MAX_BODY_BYTES = 64 * 1024
REGISTRATION_ROUTE = route_opt(realm="registration")
HttpRequest = Request[Any, Any, State]


async def json_object(request: HttpRequest) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidClientMetadataError(f"the client metadata is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting raises RecursionError
        raise InvalidClientMetadataError("the body must be the client metadata as a JSON object (RFC 7591 §3.1)") from None
    if not isinstance(data, dict):
        raise InvalidClientMetadataError("the body must be a JSON object of client metadata (RFC 7591 §3.1)")
    return data


@post("/register", summary="Dynamic client registration (RFC 7591)", status_code=201, opt=REGISTRATION_ROUTE)
async def register(request: HttpRequest, registrar: Injected[ClientRegistrar], registration_limits: Injected[RegistrationLimits]) -> Response[bytes]:
    wait = await registration_limits.check(client_ip(request))
    if wait is not None:
        raise SlowDown(f"too many client registrations from your address; retry in {wait} s", retry_after=wait)
    body = await json_object(request)
    try:
        openly = await registrar.authorize_registration(
            body,
            authorization=request.headers.getall("authorization", []),
            dpop=request.headers.getall("dpop", []),
            method=request.method,
            path=request.scope["path"],
        )
    except TokenRejected as exc:
        raise ChallengedRejection(exc, registrar.challenge(exc, route_realm(request))) from None
    return no_store_json(await registrar.register(body, openly=openly), status_code=201)


@get("/register/{client_id:str}", summary="Read a client's registration (RFC 7592 §2.1)", opt=REGISTRATION_ROUTE)
async def read_registration(request: HttpRequest, client_id: FromPath[str], registrar: Injected[ClientRegistrar]) -> Response[bytes]:
    client, token = await registrar.own_client(client_id, request.headers.getall("authorization", []))
    return no_store_json(registrar.information(client, token))


@put("/register/{client_id:str}", summary="Update a client's registration (RFC 7592 §2.2)", opt=REGISTRATION_ROUTE)
async def update_registration(request: HttpRequest, client_id: FromPath[str], registrar: Injected[ClientRegistrar]) -> Response[bytes]:
    client, token = await registrar.own_client(client_id, request.headers.getall("authorization", []))
    updated, new_secret = await registrar.update(client, await json_object(request))
    return no_store_json(registrar.information(updated, token, secret=new_secret))


@delete("/register/{client_id:str}", summary="Delete a client's registration (RFC 7592 §2.3)", status_code=204, opt=REGISTRATION_ROUTE)
async def delete_registration(request: HttpRequest, client_id: FromPath[str], registrar: Injected[ClientRegistrar]) -> None:
    client, _ = await registrar.own_client(client_id, request.headers.getall("authorization", []))
    await registrar.delete(client)


ROUTES = [register, read_registration, update_registration, delete_registration]
