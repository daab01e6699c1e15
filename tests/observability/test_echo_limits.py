"""A huge request value is never echoed in full: not in the error answered, not in a log line."""

from __future__ import annotations

from typing import Any

import httpx

from tests.observability.conftest import CapturedLogs
from tests.support.token_service import issuer_settings, running_token_service


def test_a_60_kb_resource_is_cut_in_the_error_and_the_logs(make_settings: Any, captured_logs: CapturedLogs) -> None:
    huge = "https://api.example.com/" + "a" * 60_000
    with running_token_service(issuer_settings(make_settings)) as service:
        client_id, secret = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
        assert secret is not None
        response = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials", "resource": huge}, auth=(client_id, secret))
        assert response.status_code == 400 and response.json()["error"] == "invalid_target"
        description = response.json()["error_description"]
        assert len(description) < 400 and "60024 characters" in description
        huge_scope = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials", "scope": "x" * 60_000}, auth=(client_id, secret))
        assert huge_scope.status_code == 400 and len(huge_scope.text) < 600
    assert "a" * 1000 not in captured_logs.text and "x" * 1000 not in captured_logs.text
    assert "invalid_target" in captured_logs.text, "the rejection is still logged"
