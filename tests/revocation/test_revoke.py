"""RFC 7009 token revocation over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.revocation.conftest import Deployment, introspect, machine_token, refresh, revoke, sign_in, userinfo
from tests.support.browser import Browser


def test_revoking_a_refresh_token_revokes_its_whole_family(deployment: Deployment, browser: Browser) -> None:
    url, spa = deployment.url, deployment.spa
    first = sign_in(url, browser, spa)
    rotated = refresh(url, first["refresh_token"], spa)
    assert rotated.status_code == 200
    successor = rotated.json()["refresh_token"]

    response = revoke(url, first["refresh_token"], client_id=spa, token_type_hint="refresh_token")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"

    again = refresh(url, successor, spa)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "revoked" in again.json()["error_description"]


def test_confidential_client_revokes_its_refresh_token_with_basic_auth(deployment: Deployment, browser: Browser) -> None:
    url, (webapp, _) = deployment.url, deployment.webapp
    tokens = sign_in(url, browser, webapp, deployment.webapp)
    # A wrong hint only changes where the search starts (RFC 7009 §2.1).
    assert revoke(url, tokens["refresh_token"], auth=deployment.webapp, token_type_hint="access_token").status_code == 200
    assert refresh(url, tokens["refresh_token"], webapp, deployment.webapp).json()["error"] == "invalid_grant"
    assert introspect(url, tokens["refresh_token"], deployment.webapp).json() == {"active": False}


def test_revoking_an_access_token_ends_it_at_userinfo_and_introspection(deployment: Deployment, browser: Browser) -> None:
    url = deployment.url
    tokens = sign_in(url, browser, deployment.spa)
    assert userinfo(url, tokens["access_token"]).status_code == 200
    assert introspect(url, tokens["access_token"], deployment.resource_server).json()["active"] is True

    response = revoke(url, tokens["access_token"], client_id=deployment.spa, token_type_hint="unknown_kind")
    assert response.status_code == 200 and response.content == b""

    rejected = userinfo(url, tokens["access_token"])
    assert rejected.status_code == 401
    assert "revoked" in rejected.headers["www-authenticate"]
    assert introspect(url, tokens["access_token"], deployment.resource_server).json() == {"active": False}
    # Only that token: the refresh token still works and yields a usable access token.
    renewed = refresh(url, tokens["refresh_token"], deployment.spa)
    assert renewed.status_code == 200
    assert userinfo(url, renewed.json()["access_token"]).status_code == 200


def test_a_machine_client_revokes_its_own_access_token(deployment: Deployment) -> None:
    url = deployment.url
    token = machine_token(url, deployment.resource_server)
    assert revoke(url, token, auth=deployment.resource_server).status_code == 200
    assert introspect(url, token, deployment.resource_server).json() == {"active": False}


def test_another_clients_tokens_are_silently_left_alone(deployment: Deployment, browser: Browser) -> None:
    url = deployment.url
    tokens = sign_in(url, browser, deployment.spa)
    for token in (tokens["refresh_token"], tokens["access_token"]):
        response = revoke(url, token, auth=deployment.webapp)
        assert response.status_code == 200 and response.content == b""
    assert userinfo(url, tokens["access_token"]).status_code == 200
    assert refresh(url, tokens["refresh_token"], deployment.spa).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "x" * 60_000,
        "é" * 100,
    ],
    ids=["opaque", "three-segments", "unsigned-jwt", "huge", "non-ascii"],
)
def test_unknown_and_malformed_tokens_get_200(deployment: Deployment, token: str) -> None:
    response = revoke(deployment.url, token, auth=deployment.webapp)
    assert response.status_code == 200 and response.content == b""


def test_an_id_token_is_not_revoked_as_an_access_token(deployment: Deployment, browser: Browser) -> None:
    tokens = sign_in(deployment.url, browser, deployment.spa)
    assert revoke(deployment.url, tokens["id_token"], client_id=deployment.spa).status_code == 200
    assert userinfo(deployment.url, tokens["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "auth"),
    [
        ({"token": "t"}, None),
        ({"token": "t", "client_id": "nobody"}, None),
        ({"token": "t"}, ("nobody", "wrong-secret")),
    ],
    ids=["no-client", "unknown-public-client", "wrong-secret"],
)
def test_unauthenticated_revocation_is_invalid_client(deployment: Deployment, data: dict[str, str], auth: tuple[str, str] | None) -> None:
    response = httpx.post(f"{deployment.url}/revoke", data=data, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    if auth is not None:
        assert response.headers["www-authenticate"].startswith("Basic")


def test_confidential_client_without_its_secret_cannot_revoke(deployment: Deployment, browser: Browser) -> None:
    webapp, _ = deployment.webapp
    tokens = sign_in(deployment.url, browser, webapp, deployment.webapp)
    response = revoke(deployment.url, tokens["refresh_token"], client_id=webapp)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert refresh(deployment.url, tokens["refresh_token"], webapp, deployment.webapp).status_code == 200


def test_revocation_without_a_token_is_invalid_request(deployment: Deployment) -> None:
    response = httpx.post(f"{deployment.url}/revoke", data={"client_id": deployment.spa})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_browser_apps_may_call_revoke_cross_origin(deployment: Deployment) -> None:
    preflight = httpx.options(f"{deployment.url}/revoke", headers={"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
