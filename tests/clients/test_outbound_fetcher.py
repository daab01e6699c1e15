"""The outbound fetcher cannot be turned against the service's own network, and caps size and time."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from tests.support.client_keys import ClientKeyServer, new_key, sign_assertion
from tests.support.token_service import RunningTokenService
from token_service.clients.assertion import JWT_BEARER
from token_service.outbound import FetchPolicy, OutboundError, OutboundFetcher, OutboundRefused
from token_service.outbound.addresses import IPAddress, is_public_address

LOCAL = ipaddress.ip_address("127.0.0.1")


def fetch(url: str, policy: FetchPolicy, fetcher: OutboundFetcher | None = None) -> object:
    async def run() -> object:
        own = fetcher or OutboundFetcher()
        try:
            return (await own.fetch_json(url, policy)).data
        finally:
            await own.aclose()

    return asyncio.run(run())


def stand_in_internet(names: dict[str, str]) -> OutboundFetcher:
    """A fetcher whose DNS answers `names` and which treats 127.0.0.1 as a public address,
    so a local server can play a public one while every private range stays refused."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(names[host])]

    return OutboundFetcher(resolver=resolve, address_allowed=lambda a: a == LOCAL or is_public_address(a))


def test_loopback_url_is_never_fetched_without_the_setting(key_server: ClientKeyServer) -> None:
    with pytest.raises(OutboundRefused) as info:
        fetch(key_server.url, FetchPolicy(allow_private=False, allow_http=True))
    assert "loopback or private address" in info.value.reason and "TOKEN_SERVICE_ALLOW_PRIVATE_URLS" in info.value.reason
    assert key_server.requests == 0


def test_a_name_resolving_to_a_private_address_is_refused(key_server: ClientKeyServer) -> None:
    port = key_server.url.split(":")[2].split("/")[0]
    fetcher = stand_in_internet({"jwks.example.test": "10.0.0.7"})
    with pytest.raises(OutboundRefused) as info:
        fetch(f"http://jwks.example.test:{port}/jwks.json", FetchPolicy(allow_http=True), fetcher)
    assert "resolves to 10.0.0.7" in info.value.reason
    assert key_server.requests == 0


def test_the_vetted_address_is_the_one_connected_to(key_server: ClientKeyServer) -> None:
    key_server.keys = [new_key()]
    port = key_server.url.split(":")[2].split("/")[0]
    fetcher = stand_in_internet({"jwks.example.test": "127.0.0.1"})
    document = fetch(f"http://jwks.example.test:{port}/jwks.json", FetchPolicy(allow_http=True), fetcher)
    assert isinstance(document, dict) and len(document["keys"]) == 1


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://metadata.example.test/"])
def test_a_redirect_to_a_private_address_is_refused(key_server: ClientKeyServer, target: str) -> None:
    port = key_server.url.split(":")[2].split("/")[0]
    key_server.redirect_to = target
    fetcher = stand_in_internet({"jwks.example.test": "127.0.0.1", "metadata.example.test": "169.254.169.254"})
    with pytest.raises(OutboundRefused) as info:
        fetch(f"http://jwks.example.test:{port}/jwks.json", FetchPolicy(allow_http=True), fetcher)
    assert "169.254.169.254" in info.value.reason


def test_an_oversized_document_is_cut_off(key_server: ClientKeyServer) -> None:
    key_server.padding = 200_000
    with pytest.raises(OutboundRefused) as info:
        fetch(key_server.url, FetchPolicy(allow_private=True, max_bytes=64 * 1024, what="the client's JWKS"))
    assert "the client's JWKS at" in info.value.reason and "limit of 65536" in info.value.reason


def test_a_slow_server_hits_the_total_time_limit(key_server: ClientKeyServer) -> None:
    key_server.delay = 3
    with pytest.raises(OutboundError) as info:
        fetch(key_server.url, FetchPolicy(allow_private=True, timeout=0.5))
    assert "did not arrive within 0.5 s" in info.value.reason


def test_plain_http_needs_the_setting() -> None:
    with pytest.raises(OutboundRefused) as info:
        fetch("http://jwks.example.com/jwks.json", FetchPolicy())
    assert "uses plain http; use https" in info.value.reason


def test_a_client_whose_jwks_is_oversized_is_refused_with_the_reason(key_service: RunningTokenService, key_server: ClientKeyServer) -> None:
    key = new_key()
    key_server.keys = [key]
    key_server.padding = 200_000
    client_id, _ = key_service.add_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=key_server.url)
    response = httpx.post(
        f"{key_service.url}/token",
        data={"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": sign_assertion(key, client_id, key_service.url)},
    )
    assert response.status_code == 401
    description = response.json()["error_description"]
    assert description.startswith(f"the client's JWKS at {key_server.url} is unavailable") and "limit of 65536" in description
