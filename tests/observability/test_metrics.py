"""GET /metrics on both services, read back after real requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import resource_api
from tests.support.token_service import issuer_settings, running_token_service


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_token_service_metrics_count_tokens_errors_jwks_keys_and_latency(make_settings: Any) -> None:
    with running_token_service(issuer_settings(make_settings)) as service:
        client_id, secret = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
        assert secret is not None
        issued = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert issued.status_code == 200, issued.text
        refused = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, "not-the-secret"))
        assert refused.status_code == 401
        jwks = httpx.get(f"{service.url}/jwks.json")
        assert httpx.get(f"{service.url}/jwks.json", headers={"If-None-Match": jwks.headers["etag"]}).status_code == 304

        found = samples(service.url)

    assert value(found, "token_service_tokens_issued_total", grant="client_credentials", client_id=client_id) == 1
    assert value(found, "token_service_token_errors_total", error="invalid_client") == 1
    assert value(found, "token_service_jwks_responses_total", status="200") == 1
    assert value(found, "token_service_jwks_responses_total", status="304") == 1
    assert value(found, "token_service_signing_keys", state="active") == 1
    assert value(found, "token_service_signing_keys", state="revoked") == 0
    age = value(found, "token_service_active_key_age_seconds")
    assert age is not None and age >= 0
    # Labelled by the route template, so both /token calls land in one series.
    assert value(found, "token_service_request_duration_seconds_count", method="POST", route="/token") == 2
    assert value(found, "token_service_requests_total", method="POST", route="/token", status="401") == 1


def test_unmatched_paths_share_one_route_label(make_settings: Any) -> None:
    with running_token_service(issuer_settings(make_settings)) as service:
        for path in ("/no-such-thing", "/another/unknown/path"):
            assert httpx.get(f"{service.url}{path}").status_code == 404
        httpx.get(f"{service.url}/healthz")
        found = samples(service.url)
    assert value(found, "token_service_requests_total", method="GET", route="unmatched", status="404") == 2
    assert not any("no-such-thing" in str(labels) for _, labels in found)


def test_resource_api_metrics_count_rejections_by_rule_and_jwks_fetches(make_settings: Any, tmp_path: Path) -> None:
    with running_token_service(issuer_settings(make_settings)) as service, resource_api(service.url, tmp_path) as api:
        client_id, secret = service.add_client(scope="notes:read", audience=api.url)
        assert secret is not None
        token = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)).json()["access_token"]
        assert httpx.get(f"{api.url}/notes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(f"{api.url}/notes", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
        assert httpx.get(f"{api.url}/notes").status_code == 401
        tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        assert httpx.get(f"{api.url}/notes", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401

        found = samples(api.url)

    assert value(found, "resource_api_token_rejections_total", rule="format", error="invalid_token") == 1
    assert value(found, "resource_api_token_rejections_total", rule="credentials", error="invalid_token") == 1
    assert value(found, "resource_api_token_rejections_total", rule="signature", error="invalid_token") == 1
    fetches = value(found, "resource_api_jwks_fetches_total")
    assert fetches is not None and fetches >= 1
    assert value(found, "resource_api_jwks_loaded") == 1
