"""A failed password login leaves a log line an operator can act on: from which address,
at which account (normalised and cut short), and never the password."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.password_login import API, PASSWORD, REDIRECT_URI, password_settings
from tests.observability.conftest import CapturedLogs
from tests.support.browser import Browser, add_user
from tests.support.token_service import running_token_service

WRONG_PASSWORD = "wrong password 7731 do not log"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_failed_password_logins_name_the_address_and_the_account(make_settings: Any, captured_logs: CapturedLogs) -> None:
    settings = password_settings(make_settings, trusted_proxies="127.0.0.1", login_rate_limit_username="2 per 5 minutes")
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], scope="openid", audience=API, public=True, first_party=True)
        add_user(settings, "demo", PASSWORD)
        browser = Browser()
        browser.http.headers["X-Forwarded-For"] = "203.0.113.50"
        try:
            for username in ("ＤＥＭＯ\u00a0", "x" * 180, "demo", " Demo"):
                page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid")
                assert isinstance(page, httpx.Response)
                browser.submit_password(page, username, WRONG_PASSWORD, REDIRECT_URI)
        finally:
            browser.close()
    failed = [e for e in captured_logs.events() if e.get("event") == "password login failed"]
    assert [(e["client_ip"], e["username"]) for e in failed] == [("203.0.113.50", "demo"), ("203.0.113.50", "x" * 64), ("203.0.113.50", "demo")]
    limited = [e for e in captured_logs.events() if e.get("event") == "password login rate-limited"]
    assert [(e["client_ip"], e["username"]) for e in limited] == [("203.0.113.50", "demo")]
    assert WRONG_PASSWORD not in captured_logs.text
