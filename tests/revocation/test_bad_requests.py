"""Whatever the body, /revoke and /introspect answer with a standard OAuth error, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.revocation.conftest import Deployment

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/json"}, b'{"token": "t"}'),
        ({}, b"token=t"),
        (FORM, b"token=a&token=b"),
        (FORM, b"token=%FF%FE"),
        (FORM, b"token=\xff\xfe"),
        (FORM, b"token=" + b"x" * 70_000),
        (FORM, b"&".join(b"p%d=1" % i for i in range(100))),
    ],
    ids=["json", "no-content-type", "duplicate", "bad-percent-utf8", "raw-non-utf8", "huge", "too-many-fields"],
)
def test_malformed_bodies_are_invalid_request(deployment: Deployment, path: str, headers: dict[str, str], body: bytes) -> None:
    response = httpx.post(f"{deployment.url}{path}", content=body, headers=headers, auth=deployment.resource_server)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_a_body_over_the_server_limit_is_refused_cleanly(deployment: Deployment, path: str) -> None:
    response = httpx.post(f"{deployment.url}{path}", content=b"token=" + b"x" * 2_000_000, headers=FORM, auth=deployment.resource_server)
    assert response.status_code in (400, 413), response.text
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_malformed_basic_credentials_are_invalid_client(deployment: Deployment, path: str) -> None:
    response = httpx.post(f"{deployment.url}{path}", data={"token": "t"}, headers={"Authorization": "Basic %%%not-base64"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_discovery_names_both_endpoints_and_their_client_authentication(deployment: Deployment) -> None:
    document = httpx.get(f"{deployment.url}/.well-known/openid-configuration").json()
    assert document["revocation_endpoint"] == f"{deployment.url}/revoke"
    assert document["introspection_endpoint"] == f"{deployment.url}/introspect"
    assert document["revocation_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    assert document["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    assert httpx.get(f"{deployment.url}/.well-known/oauth-authorization-server").json() == document
