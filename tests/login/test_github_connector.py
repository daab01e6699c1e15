"""Login with GitHub, against a local stand-in that answers the way GitHub documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.login.flow import REDIRECT_URI, redirect_back, sign_in
from tests.support.github_standin import GitHubStandIn, running_github
from token_service.login.connectors import (
    IssuerMismatchError,
    StateMismatchError,
    UpstreamConnector,
    UpstreamDeniedError,
    build_connectors,
)
from token_service.settings import TokenServiceSettings


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with running_github() as standin:
        yield standin


@pytest.fixture
def connector(github: GitHubStandIn, http: httpx.AsyncClient) -> UpstreamConnector:
    upstream = {
        "name": "github",
        "kind": "github",
        "client_id": github.client_id,
        "client_secret": github.client_secret,
        "authorize_url": github.authorize_url,
        "token_url": github.token_url,
        "api_url": github.api_url,
        "verifies_email": True,
    }
    settings = TokenServiceSettings.model_validate({"upstreams": [upstream]})
    return build_connectors(settings, http)["github"]


async def test_login_identifies_the_person_by_numeric_id_with_primary_verified_email(
    github: GitHubStandIn, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    url, _ = await connector.begin(REDIRECT_URI)
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["read:user user:email"] and query["code_challenge_method"] == ["S256"]

    profile = await sign_in(connector, http)

    assert (profile.upstream, profile.subject, profile.preferred_username) == ("github", "583231", "octocat")
    assert (profile.name, profile.email, profile.email_verified) == ("The Octocat", "octocat@github.com", True)
    (request,) = github.token_requests
    assert "application/json" in request["accept"]
    assert request["code_verifier"] and request["client_secret"] == github.client_secret


@pytest.mark.parametrize(
    "emails",
    [
        [
            {"email": "unverified@example.com", "primary": True, "verified": False, "visibility": "private"},
            {"email": "secondary@example.com", "primary": False, "verified": True, "visibility": None},
        ],
        [],
    ],
)
async def test_only_a_primary_verified_email_is_used(
    github: GitHubStandIn, connector: UpstreamConnector, http: httpx.AsyncClient, emails: list[dict[str, Any]]
) -> None:
    github.emails = emails
    github.user = {**github.user, "email": "public-profile@example.com"}  # the profile's e-mail is not vouched for
    profile = await sign_in(connector, http)
    assert (profile.email, profile.email_verified) == (None, False)


async def test_redirect_back_with_another_state_is_rejected(
    github: GitHubStandIn, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    def forge(params: dict[str, str], saved: dict[str, Any]) -> None:
        params["state"] = "state-of-another-browser"

    with pytest.raises(StateMismatchError, match="did not start"):
        await sign_in(connector, http, tamper=forge)
    assert github.token_requests == []


async def test_declined_authorization_reports_access_denied(
    github: GitHubStandIn, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    github.deny = True
    with pytest.raises(UpstreamDeniedError) as info:
        await sign_in(connector, http)
    assert info.value.error == "access_denied" and "denied" in info.value.reason
    assert github.token_requests == []


async def test_an_iss_in_the_redirect_back_is_a_mix_up_for_github(connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    def add_iss(params: dict[str, str], saved: dict[str, Any]) -> None:
        params["iss"] = "https://other-idp.example"

    with pytest.raises(IssuerMismatchError):
        await sign_in(connector, http, tamper=add_iss)


async def test_a_replayed_code_is_refused_by_github(github: GitHubStandIn, connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    url, saved = await connector.begin(REDIRECT_URI)
    params = await redirect_back(http, url)
    await connector.complete(REDIRECT_URI, params, saved)
    with pytest.raises(UpstreamDeniedError) as info:
        await connector.complete(REDIRECT_URI, params, saved)
    assert info.value.error == "bad_verification_code"
