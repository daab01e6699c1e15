"""Consent is asked when the client says so (prompt=consent) and per audience (RFC 8707 `resource`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.password_login import API, PASSWORD, REDIRECT_URI, password_settings
from tests.support.browser import Browser, add_user, query_of
from tests.support.token_service import RunningTokenService, running_token_service

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

OTHER_API = "http://127.0.0.1:8002"


@pytest.fixture
def service_and_client(make_settings: Any) -> Iterator[tuple[RunningTokenService, str]]:
    settings = password_settings(make_settings)
    with running_token_service(settings) as service:
        client_id, _ = service.add_client(
            grant_types=["authorization_code"],
            redirect_uris=[REDIRECT_URI],
            scope="openid notes:read",
            audience=API,
            resources=[OTHER_API],
            public=True,
            first_party=False,
        )
        add_user(settings, "dana", PASSWORD)
        yield service, client_id


def test_prompt_consent_shows_the_consent_page_right_after_login(service_and_client: tuple[RunningTokenService, str]) -> None:
    service, client_id = service_and_client
    browser = Browser()
    try:
        # Consent already given once: without prompt=consent the code comes straight back.
        browser.login(service.url, client_id, REDIRECT_URI, "dana", PASSWORD, scope="openid notes:read")
        browser.http.cookies.clear()
        # A new browser session: login, then prompt=consent must still show the page (OIDC Core §3.1.2.1).
        page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read", extra={"prompt": "consent"})
        assert isinstance(page, httpx.Response)
        after_login = browser.submit_password(page, "dana", PASSWORD, REDIRECT_URI)
        assert isinstance(after_login, httpx.Response), "a code was issued without the consent page"
        assert "Allow access?" in after_login.text
        # Signed in already: prompt=consent asks again as well.
        again = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read", extra={"prompt": "consent"})
        assert isinstance(again, httpx.Response) and "Allow access?" in again.text
        approved = browser.consent(again, "allow", REDIRECT_URI)
        assert isinstance(approved, str) and "code" in query_of(approved)
    finally:
        browser.close()


def test_consent_for_one_audience_does_not_cover_another(service_and_client: tuple[RunningTokenService, str]) -> None:
    service, client_id = service_and_client
    browser = Browser()
    try:
        page = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read")
        assert isinstance(page, httpx.Response)
        consent = browser.submit_password(page, "dana", PASSWORD, REDIRECT_URI)
        assert isinstance(consent, httpx.Response) and API in consent.text, "the consent page names the audience"
        assert isinstance(browser.consent(consent, "allow", REDIRECT_URI), str)
        # The same scopes at another resource: prompt=none must not yield a code.
        silent = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read", extra={"prompt": "none", "resource": OTHER_API})
        assert isinstance(silent, str)
        assert query_of(silent).get("error") == "consent_required" and "code" not in query_of(silent)
        # Interactively it is asked, naming the other audience; once approved, both are remembered.
        asked = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read", extra={"resource": OTHER_API})
        assert isinstance(asked, httpx.Response) and OTHER_API in asked.text
        assert isinstance(browser.consent(asked, "allow", REDIRECT_URI), str)
        for resource in (OTHER_API, API):
            remembered = browser.authorize(service.url, client_id, REDIRECT_URI, scope="openid notes:read", extra={"prompt": "none", "resource": resource})
            assert isinstance(remembered, str) and "code" in query_of(remembered)
    finally:
        browser.close()
