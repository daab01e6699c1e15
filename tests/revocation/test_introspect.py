"""RFC 7662 token introspection over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.revocation.conftest import Deployment, access_token_signed_by_service, introspect, machine_token, refresh, revoke, sign_in
from tests.support.browser import Browser
from tests.support.password_login import API
from tests.support.token_service import decode_segment, issuer_settings, running_token_service


def test_an_access_token_is_described_by_every_field(deployment: Deployment, browser: Browser) -> None:
    tokens = sign_in(deployment.url, browser, deployment.spa)
    claims = decode_segment(tokens["access_token"], 1)
    response = introspect(deployment.url, tokens["access_token"], deployment.resource_server, token_type_hint="access_token")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "active": True,
        "scope": "email notes:read notes:write offline_access openid profile",
        "client_id": deployment.spa,
        "sub": deployment.user_id,
        "aud": [API, f"{deployment.url}/userinfo"],
        "iss": deployment.url,
        "exp": claims["exp"],
        "iat": claims["iat"],
        "token_type": "Bearer",
        "jti": claims["jti"],
    }
    assert claims["exp"] - claims["iat"] == deployment.service.settings.access_token_ttl


def test_a_machine_token_is_active_for_any_confidential_caller(deployment: Deployment) -> None:
    token = machine_token(deployment.url, deployment.resource_server)
    body = introspect(deployment.url, token, deployment.webapp).json()
    assert body["active"] is True
    assert body["client_id"] == body["sub"] == deployment.resource_server[0]
    assert body["aud"] == API and body["scope"] == "notes:read"


def test_the_owner_sees_its_refresh_token_as_active(deployment: Deployment, browser: Browser) -> None:
    webapp, _ = deployment.webapp
    before = int(time.time())
    tokens = sign_in(deployment.url, browser, webapp, deployment.webapp)
    body = introspect(deployment.url, tokens["refresh_token"], deployment.webapp, token_type_hint="refresh_token").json()
    settings = deployment.service.settings
    assert set(body) == {"active", "scope", "client_id", "sub", "iss", "exp", "iat", "token_type"}
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert body["client_id"] == webapp and body["sub"] == deployment.user_id
    assert body["scope"] == "email notes:read notes:write offline_access openid profile"
    assert body["iss"] == deployment.url
    assert before <= body["iat"] <= int(time.time())
    assert body["exp"] == body["iat"] + min(settings.refresh_token_idle_ttl, settings.refresh_token_ttl)


def test_another_client_cannot_learn_about_a_refresh_token(deployment: Deployment, browser: Browser) -> None:
    tokens = sign_in(deployment.url, browser, deployment.webapp[0], deployment.webapp)
    assert introspect(deployment.url, tokens["refresh_token"], deployment.resource_server).json() == {"active": False}
    # The refusal leaves the token untouched for its owner.
    assert introspect(deployment.url, tokens["refresh_token"], deployment.webapp).json()["active"] is True


@pytest.fixture
def foreign_token(make_settings: Any) -> Iterator[str]:
    """An access token from another token-service instance (another issuer, other keys)."""
    with running_token_service(issuer_settings(make_settings)) as other:
        client_id, secret = other.add_client(scope="notes:read", audience=API)
        assert secret is not None
        yield machine_token(other.url, (client_id, secret))


InactiveCase = Callable[[Deployment, Browser], str]


def _expired(d: Deployment, browser: Browser) -> str:
    return access_token_signed_by_service(d.service.settings, d.spa, d.user_id, expires_in=-3600)


def _just_expired(d: Deployment, browser: Browser) -> str:
    # Within the leeway verifiers allow for clock skew, but introspection answers on the
    # issuer's own clock, where the token is simply past its exp.
    return access_token_signed_by_service(d.service.settings, d.spa, d.user_id, expires_in=-5)


def _revoked_access(d: Deployment, browser: Browser) -> str:
    token = sign_in(d.url, browser, d.webapp[0], d.webapp)["access_token"]
    assert revoke(d.url, token, auth=d.webapp).status_code == 200
    return token


def _revoked_refresh(d: Deployment, browser: Browser) -> str:
    token = sign_in(d.url, browser, d.webapp[0], d.webapp)["refresh_token"]
    assert revoke(d.url, token, auth=d.webapp).status_code == 200
    return token


def _rotated_refresh(d: Deployment, browser: Browser) -> str:
    token = sign_in(d.url, browser, d.webapp[0], d.webapp)["refresh_token"]
    assert refresh(d.url, token, d.webapp[0], d.webapp).status_code == 200
    return token


def _id_token(d: Deployment, browser: Browser) -> str:
    return sign_in(d.url, browser, d.webapp[0], d.webapp)["id_token"]


def _tampered(d: Deployment, browser: Browser) -> str:
    header, payload, signature = machine_token(d.url, d.resource_server).split(".")
    return f"{header}.{payload}.{signature[:-4]}AAAA"


INACTIVE_CASES: dict[str, InactiveCase] = {
    "expired": _expired,
    "just-expired": _just_expired,
    "revoked-access-token": _revoked_access,
    "revoked-refresh-token": _revoked_refresh,
    "rotated-refresh-token": _rotated_refresh,
    "id-token": _id_token,
    "bad-signature": _tampered,
    "opaque-garbage": lambda d, b: "no-such-token",
    "malformed-jwt": lambda d, b: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    "huge": lambda d, b: "x" * 60_000,
}


def test_a_token_minted_like_the_expired_case_is_active_until_its_exp(deployment: Deployment) -> None:
    token = access_token_signed_by_service(deployment.service.settings, deployment.spa, deployment.user_id, expires_in=300)
    assert introspect(deployment.url, token, deployment.webapp).json()["active"] is True


@pytest.mark.parametrize("case", INACTIVE_CASES)
def test_inactive_tokens_reveal_nothing_but_active_false(deployment: Deployment, browser: Browser, case: str) -> None:
    token = INACTIVE_CASES[case](deployment, browser)
    for hint in ("access_token", "refresh_token"):
        response = introspect(deployment.url, token, deployment.webapp, token_type_hint=hint)
        assert response.status_code == 200
        assert response.json() == {"active": False}


def test_a_token_of_another_issuer_is_inactive(deployment: Deployment, foreign_token: str) -> None:
    assert httpx.post(f"{deployment.url}/introspect", data={"token": foreign_token}, auth=deployment.resource_server).json() == {"active": False}


def test_a_public_client_cannot_introspect(deployment: Deployment) -> None:
    token = machine_token(deployment.url, deployment.resource_server)
    response = httpx.post(f"{deployment.url}/introspect", data={"token": token, "client_id": deployment.spa})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "active" not in response.json()


@pytest.mark.parametrize(
    ("data", "auth"),
    [({"token": "t"}, None), ({"token": "t"}, ("nobody", "x" * 40))],
    ids=["no-client", "unknown-client"],
)
def test_an_unauthenticated_caller_cannot_introspect(deployment: Deployment, data: dict[str, str], auth: tuple[str, str] | None) -> None:
    response = httpx.post(f"{deployment.url}/introspect", data=data, auth=auth)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_client_secret_post_works_and_token_is_required(deployment: Deployment) -> None:
    client_id, secret = deployment.resource_server
    token = machine_token(deployment.url, deployment.resource_server)
    posted = httpx.post(f"{deployment.url}/introspect", data={"token": token, "client_id": client_id, "client_secret": secret})
    assert posted.json()["active"] is True
    missing = httpx.post(f"{deployment.url}/introspect", data={"client_id": client_id, "client_secret": secret})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
