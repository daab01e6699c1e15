"""RFC 8707 resource indicators at /authorize and /token, for every grant: the token's `aud`
is the requested resource, its scopes those the resource offers and the client may have,
and a resource the client may not use is `invalid_target`."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from shared import AccessTokenVerifier, InvalidToken, JwksCache
from tests.support.browser import Browser, add_user, pkce_pair, query_of
from tests.support.password_login import PASSWORD, REDIRECT_URI, password_settings
from tests.support.token_service import RunningTokenService, decode_segment, running_token_service
from token_service.db.engine import create_engine, session_factory
from token_service.resources.model import ResourceConfig
from token_service.resources.registry import CACHE_SECONDS, ResourceRegistry
from token_service.settings import TokenServiceSettings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

NOTES = "http://127.0.0.1:8001"
PAYMENTS = "http://127.0.0.1:8002"
UNKNOWN = "http://127.0.0.1:8003"


@dataclass
class Deployment:
    service: RunningTokenService
    machine: tuple[str, str]
    outsider: tuple[str, str]
    app: str  # a public, third-party browser client without an audience


def add_stored_resource(settings: TokenServiceSettings, config: dict[str, Any]) -> None:
    """As `token-service resources add` does."""

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await ResourceRegistry(session_factory(engine), {}).add(ResourceConfig.model_validate(config))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def deployment(make_settings: Any) -> Iterator[Deployment]:
    # One resource from the TOML file, one from the database: both sources serve the same rules.
    notes = {
        "identifier": NOTES,
        "name": "Notes API",
        "scopes": ["notes:write", {"name": "notes:read", "description": "Read your notes"}],
    }
    settings = password_settings(make_settings, resources=[notes])
    with running_token_service(settings) as service:
        add_stored_resource(settings, {"identifier": PAYMENTS, "name": "Payments API", "scopes": [{"name": "payments:read", "description": "See your payments"}]})
        machine = service.add_client(scope="notes:read notes:write payments:read", audience=NOTES)
        outsider = service.add_client(scope="reports:read", audience="http://127.0.0.1:8009")
        app, _ = service.add_client(
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            scope="openid offline_access notes:read payments:read",
            public=True,
        )
        add_user(settings, "erin", PASSWORD)
        yield Deployment(service, (machine[0], machine[1] or ""), (outsider[0], outsider[1] or ""), app)


def client_token(d: Deployment, client: tuple[str, str], **params: Any) -> httpx.Response:
    return httpx.post(f"{d.service.url}/token", data={"grant_type": "client_credentials", **params}, auth=client)


def test_client_credentials_token_is_for_the_requested_resource_with_its_scopes(deployment: Deployment) -> None:
    default = client_token(deployment, deployment.machine)
    assert default.status_code == 200, default.text
    claims = decode_segment(default.json()["access_token"], 1)
    # The client's audience is the default resource; payments:read is not a notes scope.
    assert claims["aud"] == NOTES and claims["scope"] == "notes:read notes:write"
    assert default.json()["scope"] == "notes:read notes:write"

    payments = client_token(deployment, deployment.machine, resource=PAYMENTS)
    assert payments.status_code == 200, payments.text
    claims = decode_segment(payments.json()["access_token"], 1)
    assert claims["aud"] == PAYMENTS and claims["scope"] == "payments:read"


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"resource": UNKNOWN}, "invalid_target", "not an API this service issues tokens for"),
        ({"resource": "notes-api"}, "invalid_target", "absolute URI"),
        ({"resource": f"{NOTES}#x"}, "invalid_target", "fragment"),
        ({"resource": [NOTES, PAYMENTS]}, "invalid_target", "one resource"),
        ({"resource": PAYMENTS, "scope": "notes:read"}, "invalid_scope", "not offered by resource"),
    ],
)
def test_client_credentials_refuses_a_bad_target(deployment: Deployment, params: dict[str, Any], error: str, words: str) -> None:
    response = client_token(deployment, deployment.machine, **params)
    assert response.status_code == 400 and response.json()["error"] == error, response.text
    assert words in response.json()["error_description"]


def test_a_resource_offering_none_of_the_clients_scopes_is_invalid_target(deployment: Deployment) -> None:
    response = client_token(deployment, deployment.outsider, resource=PAYMENTS)
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    assert "none of the scopes" in response.json()["error_description"]


def test_a_token_for_one_resource_is_refused_by_another(deployment: Deployment) -> None:
    token = client_token(deployment, deployment.machine, resource=NOTES).json()["access_token"]

    async def verify(audience: str) -> str:
        jwks = JwksCache(deployment.service.url)
        try:
            verifier = AccessTokenVerifier(jwks, issuer=deployment.service.url, audience=audience)
            try:
                claims = await verifier.verify(token)
            except InvalidToken as exc:
                return f"refused: {exc}"
            return f"accepted: {claims.sub}"
        finally:
            await jwks.aclose()

    assert asyncio.run(verify(NOTES)) == f"accepted: {deployment.machine[0]}"
    refused = asyncio.run(verify(PAYMENTS))
    assert refused.startswith("refused") and NOTES in refused and PAYMENTS in refused, refused


def start_authorization(browser: Browser, d: Deployment, resources: list[str], scope: str) -> tuple[httpx.Response | str, str]:
    verifier, challenge = pkce_pair()
    params = [
        ("response_type", "code"),
        ("client_id", d.app),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", secrets.token_urlsafe(8)),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        *[("resource", r) for r in resources],
    ]
    return browser.follow(browser.http.get(f"{d.service.url}/authorize?{urlencode(params)}"), REDIRECT_URI), verifier


def redeem(d: Deployment, code: str, verifier: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": d.app, "code_verifier": verifier, **extra}
    return httpx.post(f"{d.service.url}/token", data=data)


def test_code_flow_with_two_resources_issues_one_token_per_resource(deployment: Deployment) -> None:
    d = deployment
    scope = "openid offline_access notes:read payments:read"
    browser = Browser()
    try:
        login, verifier = start_authorization(browser, d, [NOTES, PAYMENTS], scope)
        assert isinstance(login, httpx.Response)
        consent = browser.submit_password(login, "erin", PASSWORD, REDIRECT_URI)
        assert isinstance(consent, httpx.Response) and "Allow access?" in consent.text
        # The consent page names both APIs and says what their scopes allow, in their own words.
        for words in ("Notes API", NOTES, "Payments API", "Read your notes", "See your payments"):
            assert words in consent.text, words
        redirect = browser.consent(consent, "allow", REDIRECT_URI)
        assert isinstance(redirect, str)

        # Two resources were authorized: the token request must say which one this token is for.
        several = redeem(d, query_of(redirect)["code"], verifier)
        assert several.status_code == 400 and several.json()["error"] == "invalid_target"
        assert "several resources" in several.json()["error_description"]

        # Consent is remembered for both: the next codes come straight back.
        redirect, verifier = start_authorization(browser, d, [NOTES, PAYMENTS], scope)
        assert isinstance(redirect, str)
        other = redeem(d, query_of(redirect)["code"], verifier, resource=UNKNOWN)
        assert other.status_code == 400 and other.json()["error"] == "invalid_target"
        assert "was not authorized" in other.json()["error_description"]

        redirect, verifier = start_authorization(browser, d, [NOTES, PAYMENTS], scope)
        assert isinstance(redirect, str)
        tokens = redeem(d, query_of(redirect)["code"], verifier, resource=PAYMENTS)
        assert tokens.status_code == 200, tokens.text
        claims = decode_segment(tokens.json()["access_token"], 1)
        assert claims["aud"] == [PAYMENTS, f"{d.service.url}/userinfo"]
        assert claims["scope"] == "offline_access openid payments:read"

        # The refresh token keeps both resources; each refresh may narrow to one of them.
        refresh_token = tokens.json()["refresh_token"]
        refreshed = httpx.post(f"{d.service.url}/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": d.app, "resource": NOTES})
        assert refreshed.status_code == 200, refreshed.text
        claims = decode_segment(refreshed.json()["access_token"], 1)
        assert claims["aud"] == [NOTES, f"{d.service.url}/userinfo"] and claims["scope"] == "notes:read offline_access openid"

        refused = httpx.post(
            f"{d.service.url}/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"], "client_id": d.app, "resource": UNKNOWN},
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
        # A refused request leaves the refresh token usable.
        again = httpx.post(
            f"{d.service.url}/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"], "client_id": d.app, "resource": PAYMENTS},
        )
        assert again.status_code == 200, again.text
        assert decode_segment(again.json()["access_token"], 1)["aud"][0] == PAYMENTS
    finally:
        browser.close()


@pytest.mark.parametrize(
    ("resources", "scope", "error", "words"),
    [
        ([UNKNOWN], "openid notes:read", "invalid_target", "not an API"),
        ([NOTES], "openid payments:read", "invalid_scope", "not offered by resource"),
        ([], "openid notes:read", "invalid_target", "no default audience"),
    ],
)
def test_authorize_redirects_with_the_error_for_a_bad_target(deployment: Deployment, resources: list[str], scope: str, error: str, words: str) -> None:
    browser = Browser()
    try:
        redirect, _ = start_authorization(browser, deployment, resources, scope)
        assert isinstance(redirect, str), getattr(redirect, "text", redirect)
        params = query_of(redirect)
        assert params["error"] == error and words in params["error_description"], params
    finally:
        browser.close()


def test_a_resource_removed_by_another_process_is_refused_within_seconds(deployment: Deployment) -> None:
    assert client_token(deployment, deployment.machine, resource=PAYMENTS).status_code == 200

    async def remove() -> bool:
        engine = create_engine(deployment.service.settings)
        try:
            return await ResourceRegistry(session_factory(engine), {}).remove(PAYMENTS)
        finally:
            await engine.dispose()

    assert asyncio.run(remove())
    deadline = time.monotonic() + CACHE_SECONDS + 3
    while True:
        response = client_token(deployment, deployment.machine, resource=PAYMENTS)
        if response.status_code == 400:
            break
        assert time.monotonic() < deadline, "the removed resource is still served after the registry's cache time"
        time.sleep(0.25)
    assert response.json()["error"] == "invalid_target"
