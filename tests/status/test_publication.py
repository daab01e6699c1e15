"""Access tokens carry a status list entry; the lists are served as signed status list tokens."""

from __future__ import annotations

import httpx

from tests.revocation.conftest import Deployment, machine_token, revoke
from tests.status.conftest import list_claims, revoked_bits, status_of


def test_every_access_token_points_at_its_own_index_in_a_served_list(deployment: Deployment) -> None:
    url = deployment.url
    tokens = [machine_token(url, deployment.resource_server) for _ in range(5)]
    references = [status_of(token) for token in tokens]
    assert len({idx for _, idx in references}) == 5  # never the same index twice
    uri = references[0][0]
    assert uri.startswith(f"{url}/statuslists/")

    claims = list_claims(url, uri)
    assert claims["sub"] == uri and claims["ttl"] == deployment.service.settings.status_list_ttl == 10
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int) and claims["exp"] > claims["iat"]
    assert revoked_bits(url, uri) == set()


def test_the_list_is_cached_by_its_ttl_and_revalidated_with_a_strong_etag(deployment: Deployment) -> None:
    uri, _ = status_of(machine_token(deployment.url, deployment.resource_server))
    first = httpx.get(uri)
    assert first.headers["content-type"].startswith("application/statuslist+jwt")
    assert first.headers["cache-control"] == "public, max-age=10"
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = httpx.get(uri, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert httpx.get(uri).text == first.text  # built once, not per request
    metrics = httpx.get(f"{deployment.url}/metrics").text
    assert 'token_service_status_list_responses_total{status="304"} 1.0' in metrics
    assert 'token_service_status_list_responses_total{status="200"}' in metrics


def test_discovery_names_the_aggregation_endpoint_listing_current_lists(deployment: Deployment) -> None:
    url = deployment.url
    uri, _ = status_of(machine_token(url, deployment.resource_server))
    metadata = httpx.get(f"{url}/.well-known/oauth-authorization-server").json()
    assert metadata["status_list_aggregation_endpoint"] == f"{url}/statuslists"
    assert uri in httpx.get(f"{url}/statuslists").json()["status_lists"]


def test_unknown_lists_are_404(deployment: Deployment) -> None:
    assert httpx.get(f"{deployment.url}/statuslists/nosuchlist").status_code == 404


def test_revoking_an_access_token_flips_exactly_its_bit(deployment: Deployment) -> None:
    url = deployment.url
    tokens = [machine_token(url, deployment.resource_server) for _ in range(3)]
    assert revoke(url, tokens[1], auth=deployment.resource_server).status_code == 200
    uri, idx = status_of(tokens[1])
    # The instance that revoked rebuilds at once.
    assert revoked_bits(url, uri) == {idx}
