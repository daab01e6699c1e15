"""A machine client gets an RS256 access token (RFC 6749 §4.4, RFC 9068) — over real HTTP."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.token_service import RunningTokenService, decode_segment, issuer_settings, running_token_service

AUDIENCE = "http://127.0.0.1:8001"


@pytest.fixture
def service(make_settings: Any) -> Iterator[RunningTokenService]:
    with running_token_service(issuer_settings(make_settings)) as running:
        yield running


def machine_client(service: RunningTokenService, **fields: Any) -> tuple[str, str]:
    fields.setdefault("scope", "notes:read notes:write")
    fields.setdefault("audience", AUDIENCE)
    client_id, secret = service.add_client(**fields)
    assert secret is not None
    return client_id, secret


def test_authlib_client_gets_verifiable_rfc9068_token(service: RunningTokenService) -> None:
    client_id, secret = machine_client(service)
    with OAuth2Client(client_id, secret, token_endpoint_auth_method="client_secret_basic") as client:
        token = client.fetch_token(f"{service.url}/token", grant_type="client_credentials", scope="notes:read")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "notes:read"
    assert token["expires_in"] == service.settings.access_token_ttl

    header = decode_segment(token["access_token"], 0)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    keys = KeySet.import_key_set(httpx.get(f"{service.url}/jwks.json").json())
    decoded = jwt.decode(token["access_token"], keys, algorithms=["RS256"])
    claims = decoded.claims
    assert decoded.header["kid"] in {k.kid for k in keys.keys}
    assert claims["iss"] == service.url
    assert claims["sub"] == client_id and claims["client_id"] == client_id
    assert claims["aud"] == AUDIENCE
    assert claims["scope"] == "notes:read"
    assert claims["exp"] - claims["iat"] == service.settings.access_token_ttl
    assert abs(claims["iat"] - time.time()) < 5
    assert len(claims["jti"]) >= 16


def test_token_response_is_not_cacheable(service: RunningTokenService) -> None:
    client_id, secret = machine_client(service)
    response = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["scope"] == "notes:read notes:write"  # no scope requested: the client's default


def test_each_token_has_a_fresh_jti(service: RunningTokenService) -> None:
    client_id, secret = machine_client(service)
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    first = httpx.post(f"{service.url}/token", data=data).json()["access_token"]
    second = httpx.post(f"{service.url}/token", data=data).json()["access_token"]
    assert decode_segment(first, 1)["jti"] != decode_segment(second, 1)["jti"]


def test_resource_parameter_selects_an_allowed_audience(service: RunningTokenService) -> None:
    client_id, secret = machine_client(service, resources=["https://billing.example.com"])
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    ok = httpx.post(f"{service.url}/token", data={**data, "resource": "https://billing.example.com"})
    assert decode_segment(ok.json()["access_token"], 1)["aud"] == "https://billing.example.com"
    denied = httpx.post(f"{service.url}/token", data={**data, "resource": "https://other.example.com"})
    assert denied.status_code == 400 and denied.json()["error"] == "invalid_target"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_wrong_secret_with_basic_is_401_with_basic_challenge(service: RunningTokenService) -> None:
    client_id, _ = machine_client(service)
    response = httpx.post(
        f"{service.url}/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic(client_id, "x" * 40)}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_unknown_client_in_body_is_invalid_client(service: RunningTokenService) -> None:
    response = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "y" * 40})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("extra", "error", "status"),
    [
        ({"scope": "admin"}, "invalid_scope", 400),
        ({"grant_type": "password"}, "unsupported_grant_type", 400),
        ({"grant_type": None}, "invalid_request", 400),
    ],
)
def test_rfc6749_errors(service: RunningTokenService, extra: dict[str, Any], error: str, status: int) -> None:
    client_id, secret = machine_client(service)
    data: dict[str, Any] = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}
    if data["grant_type"] is None:
        del data["grant_type"]
    if error == "unsupported_grant_type":
        data["grant_type"] = "urn:example:unknown"
    response = httpx.post(f"{service.url}/token", data=data)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"grant_type=client_credentials&grant_type=client_credentials", "application/x-www-form-urlencoded"),
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"grant_type=\xff\xfe", "application/x-www-form-urlencoded"),
        (b"grant_type=%FF%FE", "application/x-www-form-urlencoded"),
        (b"a=" + b"x" * 200_000, "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
        (b"&&&==&", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_get_invalid_request_never_500(service: RunningTokenService, content: bytes, content_type: str) -> None:
    client_id, secret = machine_client(service)
    response = httpx.post(
        f"{service.url}/token", content=content, headers={"Content-Type": content_type, "Authorization": basic(client_id, secret)}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert "Traceback" not in response.text


def test_two_authentication_methods_at_once_are_rejected(service: RunningTokenService) -> None:
    client_id, secret = machine_client(service)
    response = httpx.post(
        f"{service.url}/token",
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers={"Authorization": basic(client_id, secret)},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_two_authorization_headers_are_refused(service: RunningTokenService) -> None:
    client_id, secret = machine_client(service)
    other_id, other_secret = machine_client(service)
    for path in ("/token", "/introspect", "/revoke"):
        response = httpx.post(
            f"{service.url}{path}",
            data={"grant_type": "client_credentials", "token": "x"},
            headers=[("Authorization", basic(client_id, secret)), ("Authorization", basic(other_id, other_secret))],
        )
        assert response.status_code == 400, path
        assert response.json()["error"] == "invalid_request" and "more than one Authorization header" in response.json()["error_description"]


def test_secret_with_reserved_characters_in_basic_is_form_decoded(service: RunningTokenService) -> None:
    secret = "s3cr:t/with+plus&percent%and=more-characters!"
    client_id, _ = machine_client(service, secret=secret)
    from urllib.parse import quote

    response = httpx.post(
        f"{service.url}/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(quote(client_id, safe=""), quote(secret, safe=""))},
    )
    assert response.status_code == 200, response.text
