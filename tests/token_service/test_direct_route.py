"""`POST /token` is served straight from the ASGI entry point (http/direct.py); Litestar's route is its parity reference.

Every request below goes once to `/token` (the direct path) and once to `/token/`, which
Litestar's router normalises to the same registered handler: the two answers must be the
same status, the same headers and the same body, apart from what differs on every request
(the token itself, the request id, the date).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from litestar import Litestar, Request, post
from litestar.exceptions import ImproperlyConfiguredException
from litestar.response.base import ASGIResponse
from litestar.routes.http import HTTPRoute

from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service
from token_service.grants.client_credentials import ClientCredentialsGrant
from token_service.http.direct import DirectRoute, direct_dispatch

AUDIENCE = "http://127.0.0.1:8001"
DIRECT, THROUGH_LITESTAR = "/token", "/token/"
VOLATILE = {"date", "server", "x-request-id", "content-length"}


@pytest.fixture
def service(make_settings: Any) -> Iterator[RunningTokenService]:
    with running_token_service(issuer_settings(make_settings)) as running:
        yield running


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths Litestar's HTTP route pipeline served (the live server runs in this process).
    Requested before `service`: the router binds `handle` when the app is built."""
    seen: list[str] = []
    handle = HTTPRoute.handle

    async def recording(self: HTTPRoute, scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["raw_path"].decode())
        await handle(self, scope, receive, send)

    monkeypatch.setattr(HTTPRoute, "handle", recording)
    return seen


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def both(service: RunningTokenService, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    return tuple(httpx.post(f"{service.url}{path}", **request) for path in (DIRECT, THROUGH_LITESTAR))  # type: ignore[return-value]


def lasting_headers(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.headers["content-length"] == str(len(response.content))
    return sorted((name, value) for name, value in response.headers.multi_items() if name not in VOLATILE)


def assert_same_answer(direct: httpx.Response, reference: httpx.Response) -> None:
    assert direct.status_code == reference.status_code, (direct.text, reference.text)
    assert lasting_headers(direct) == lasting_headers(reference)
    assert direct.json() == reference.json()


def test_a_token_is_issued_the_same_way_on_both_paths(routed: list[str], service: RunningTokenService) -> None:
    client_id, secret = service.add_client(scope="notes:read", audience=AUDIENCE)
    direct, reference = both(service, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert direct.status_code == reference.status_code == 200
    assert lasting_headers(direct) == lasting_headers(reference)
    assert direct.headers["cache-control"] == "no-store" and direct.headers["content-type"] == "application/json"
    bodies = direct.json(), reference.json()
    assert {k: v for k, v in bodies[0].items() if k != "access_token"} == {k: v for k, v in bodies[1].items() if k != "access_token"}
    keys = KeySet.import_key_set(httpx.get(f"{service.url}/jwks.json").json())
    claims = [jwt.decode(body["access_token"], keys, algorithms=["RS256"]).claims for body in bodies]
    assert claims[0].keys() == claims[1].keys() and claims[0]["sub"] == claims[1]["sub"] == client_id
    assert DIRECT not in routed and THROUGH_LITESTAR in routed, "POST /token went through Litestar's route pipeline"


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "no grant_type", "unknown grant_type", "grant not registered", "json body", "oversized body", "bad percent-encoding", "two authorizations"],
)
def test_every_error_is_rendered_the_same_way_on_both_paths(service: RunningTokenService, case: str) -> None:
    client_id, secret = service.add_client(scope="notes:read", audience=AUDIENCE)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    request: dict[str, Any] = {
        "wrong secret": {"data": {"grant_type": "client_credentials"}, "headers": basic(client_id, "not-the-secret")},
        "no grant_type": {"data": {"scope": "notes:read"}, "headers": basic(client_id, secret)},
        "unknown grant_type": {"data": {"grant_type": "urn:example:nope"}, "headers": basic(client_id, secret)},
        "grant not registered": {"data": {"grant_type": "refresh_token", "refresh_token": "x"}, "headers": basic(client_id, secret)},
        "json body": {"json": {"grant_type": "client_credentials"}, "headers": basic(client_id, secret)},
        "oversized body": {"content": b"grant_type=client_credentials&pad=" + b"a" * 70_000, "headers": {**form, **basic(client_id, secret)}},
        "bad percent-encoding": {"content": b"grant_type=%ff", "headers": {**form, **basic(client_id, secret)}},
        "two authorizations": {"data": {"grant_type": "client_credentials"}, "headers": [*basic(client_id, secret).items(), ("Authorization", "Basic eDp5")]},
    }[case]
    direct, reference = both(service, **request)
    assert 400 <= direct.status_code < 500
    assert direct.json()["error"] and direct.headers["cache-control"] == "no-store"
    assert_same_answer(direct, reference)


def test_an_unexpected_failure_is_a_500_without_a_trace_on_both_paths(service: RunningTokenService, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, secret = service.add_client(scope="notes:read", audience=AUDIENCE)

    async def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("a bug with a secret in its message: hunter2")

    monkeypatch.setattr(ClientCredentialsGrant, "__call__", broken)
    direct, reference = both(service, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert direct.status_code == 500
    assert direct.json()["error"] == "server_error" and "hunter2" not in direct.text
    assert_same_answer(direct, reference)


def test_other_methods_on_the_token_path_are_litestars(service: RunningTokenService) -> None:
    answer = httpx.get(f"{service.url}/token")
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"


def test_a_route_with_what_the_direct_path_would_skip_is_refused_when_the_app_is_built() -> None:
    async def answer(request: Request[Any, Any, Any]) -> bytes:
        return b"{}"

    async def guard(connection: Any, handler: Any) -> None:
        return None

    @post("/token", guards=[guard])
    async def guarded(request: Request[Any, Any, Any]) -> ASGIResponse:
        return ASGIResponse(body=await answer(request))

    app = Litestar([guarded], exception_handlers={Exception: lambda request, exc: None})
    with pytest.raises(ImproperlyConfiguredException, match="guards"):
        direct_dispatch(app, DirectRoute(guarded, answer), app)
