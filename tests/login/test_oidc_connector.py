"""Login with an OpenID Connect upstream: every check on the redirect back and on the ID token can fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.login.flow import REDIRECT_URI, sign_in
from tests.support.oidc_provider import DELETE, OidcProvider, running_oidc_provider
from token_service.login.connectors import (
    InvalidIdTokenError,
    IssuerMismatchError,
    StateMismatchError,
    UpstreamConnector,
    UpstreamDeniedError,
    build_connectors,
)
from token_service.settings import TokenServiceSettings


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with running_oidc_provider() as provider:
        yield provider


def connector_for(provider: OidcProvider, http: httpx.AsyncClient, **upstream: Any) -> UpstreamConnector:
    fields: dict[str, Any] = {"name": "corp", "kind": "oidc", "issuer": provider.issuer, "client_id": provider.client_id}
    if provider.client_secret is not None:
        fields["client_secret"] = provider.client_secret
    settings = TokenServiceSettings.model_validate({"upstreams": [{**fields, **upstream}]})
    return build_connectors(settings, http)["corp"]


@pytest.fixture
def connector(provider: OidcProvider, http: httpx.AsyncClient) -> UpstreamConnector:
    return connector_for(provider, http)


async def test_login_returns_the_profile_from_the_verified_id_token(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    url, saved = await connector.begin(REDIRECT_URI)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] == [saved["nonce"]]
    assert "openid" in query["scope"][0].split()

    profile = await sign_in(connector, http)

    assert (profile.upstream, profile.subject) == ("corp", "alice-42")
    assert (profile.name, profile.email, profile.email_verified) == ("Alice Example", "alice@example.com", True)
    (request,) = provider.token_requests
    assert request["authorization"].startswith("Basic ")  # client_secret_basic
    assert request["code_verifier"] and "client_secret" not in request


async def test_public_client_sends_its_id_and_no_secret(http: httpx.AsyncClient) -> None:
    with running_oidc_provider(client_secret=None) as provider:
        profile = await sign_in(connector_for(provider, http), http)
    assert profile.subject == "alice-42"
    (request,) = provider.token_requests
    assert request["client_id"] == provider.client_id and request["authorization"] == ""


async def test_id_token_with_another_nonce_is_rejected(provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    provider.id_token_claims = {"nonce": "nonce-of-another-login"}
    with pytest.raises(InvalidIdTokenError, match="nonce"):
        await sign_in(connector, http)


async def test_id_token_from_another_issuer_is_rejected(provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    provider.id_token_claims = {"iss": "https://evil.example"}
    with pytest.raises(InvalidIdTokenError, match="iss is 'https://evil.example'"):
        await sign_in(connector, http)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-client"}, "does not contain our client_id"),
        ({"aud": ["token-service", "another-client"]}, "no azp"),
        ({"aud": ["token-service", "another-client"], "azp": "another-client"}, "azp is 'another-client'"),
        ({"aud": DELETE}, "does not contain our client_id"),
    ],
)
async def test_id_token_for_another_audience_is_rejected(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient, claims: dict[str, Any], reason: str
) -> None:
    provider.id_token_claims = claims
    with pytest.raises(InvalidIdTokenError, match=reason):
        await sign_in(connector, http)


async def test_several_audiences_are_accepted_when_azp_names_us(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    provider.id_token_claims = {"aud": ["token-service", "another-client"], "azp": "token-service"}
    assert (await sign_in(connector, http)).subject == "alice-42"


async def test_expired_id_token_is_rejected(provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    now = int(time.time())
    provider.id_token_claims = {"iat": now - 600, "exp": now - 120}
    with pytest.raises(InvalidIdTokenError, match=r"expired 1[12]\d s ago"):
        await sign_in(connector, http)


async def test_expiry_within_the_leeway_is_accepted(provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    now = int(time.time())
    provider.id_token_claims = {"iat": now - 600, "exp": now - 5}
    assert (await sign_in(connector, http)).subject == "alice-42"


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_unsigned_or_hmac_id_token_is_rejected(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient, alg: str
) -> None:
    provider.id_token_signing = alg
    with pytest.raises(InvalidIdTokenError, match=f"alg '{alg}'"):
        await sign_in(connector, http)


async def test_id_token_signed_by_a_key_outside_the_jwks_is_rejected(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    await sign_in(connector, http)  # caches the JWKS
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # the published kid, an unpublished key
    fetches = provider.jwks_requests
    with pytest.raises(InvalidIdTokenError, match="signature does not verify"):
        await sign_in(connector, http)
    assert provider.jwks_requests == fetches  # a known kid is no reason to refetch


async def test_rotated_upstream_key_is_fetched_once_on_unknown_kid(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    await sign_in(connector, http)
    assert provider.jwks_requests == 1
    provider.keys = [RSAKey.generate_key(2048, parameters={"kid": "k2"}), *provider.keys]
    assert (await sign_in(connector, http)).subject == "alice-42"
    assert provider.jwks_requests == 2


async def test_redirect_back_naming_another_issuer_is_a_mix_up(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    provider.callback_iss = "https://other-idp.example"
    with pytest.raises(IssuerMismatchError, match="RFC 9207"):
        await sign_in(connector, http)
    assert provider.token_requests == []  # the code never reaches the token endpoint


async def test_missing_iss_is_refused_when_the_upstream_promises_it(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    provider.callback_iss = DELETE
    with pytest.raises(IssuerMismatchError, match="authorization_response_iss_parameter_supported"):
        await sign_in(connector, http)


async def test_missing_iss_is_fine_when_the_upstream_does_not_send_it(http: httpx.AsyncClient) -> None:
    with running_oidc_provider(iss_parameter_supported=False, callback_iss=DELETE) as provider:
        assert (await sign_in(connector_for(provider, http), http)).subject == "alice-42"


async def test_redirect_back_with_another_state_is_rejected(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    def forge(params: dict[str, str], saved: dict[str, Any]) -> None:
        params["state"] = "state-from-the-attackers-own-login"

    with pytest.raises(StateMismatchError):
        await sign_in(connector, http, tamper=forge)
    assert provider.token_requests == []


async def test_error_response_is_reported_with_its_code(provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient) -> None:
    def decline(params: dict[str, str], saved: dict[str, Any]) -> None:
        params.pop("code")
        params["error"] = "access_denied"

    with pytest.raises(UpstreamDeniedError) as info:
        await sign_in(connector, http, tamper=decline)
    assert info.value.error == "access_denied"


async def test_discovery_naming_another_issuer_is_refused(http: httpx.AsyncClient) -> None:
    with running_oidc_provider(discovery_issuer="https://impostor.example") as provider:
        with pytest.raises(IssuerMismatchError, match="expected exactly"):
            await connector_for(provider, http).begin(REDIRECT_URI)


async def test_userinfo_supplies_the_email_missing_from_the_id_token(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    provider.id_token_claims = {"email": DELETE, "email_verified": DELETE}
    profile = await sign_in(connector, http)
    assert (profile.email, profile.email_verified) == ("alice@example.com", True)


async def test_userinfo_about_another_subject_is_refused(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    provider.id_token_claims = {"email": DELETE}
    provider.userinfo_claims = {"sub": "mallory", "email": "mallory@example.com", "email_verified": True}
    with pytest.raises(InvalidIdTokenError, match="another subject"):
        await sign_in(connector, http)


async def test_wrong_pkce_verifier_is_refused_by_the_upstream(
    provider: OidcProvider, connector: UpstreamConnector, http: httpx.AsyncClient
) -> None:
    def swap_verifier(params: dict[str, str], saved: dict[str, Any]) -> None:
        saved["code_verifier"] = "x" * 43

    with pytest.raises(UpstreamDeniedError) as info:
        await sign_in(connector, http, tamper=swap_verifier)
    assert info.value.error == "invalid_grant"
