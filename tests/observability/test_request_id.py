"""Every response carries X-Request-ID: the caller's when it is short and safe, else a new one."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.token_service import issuer_settings, running_token_service
from token_service.observability.request_id import incoming_request_id


def test_a_safe_incoming_request_id_is_echoed_and_a_missing_one_generated(make_settings: Any) -> None:
    with running_token_service(issuer_settings(make_settings)) as service:
        echoed = httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
        generated = httpx.get(f"{service.url}/healthz")
        second = httpx.get(f"{service.url}/healthz")
        on_error = httpx.post(f"{service.url}/token", data={}, headers={"X-Request-ID": "failing-call"})
    assert echoed.headers["x-request-id"] == "lb-7f3a.42"
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert generated.headers["x-request-id"] != second.headers["x-request-id"]
    assert on_error.status_code == 400 and on_error.headers["x-request-id"] == "failing-call"


def test_an_unsafe_incoming_request_id_is_replaced(make_settings: Any) -> None:
    with running_token_service(issuer_settings(make_settings)) as service:
        response = httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": "x" * 65})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.parametrize("value", ["", "a b", "<script>", "x" * 65, "id\"quoted", "-leading-dash", "ünïcode"])
def test_unsafe_values_are_not_accepted(value: str) -> None:
    assert incoming_request_id([(b"x-request-id", value.encode("utf-8"))]) is None


def test_safe_values_are_accepted() -> None:
    assert incoming_request_id([(b"X-Request-ID", b"abc-123_4.5:6")]) == "abc-123_4.5:6"
