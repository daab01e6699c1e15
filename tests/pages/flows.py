"""Steps a person takes in the browser, shared by the page tests."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Page

from tests.pages.conftest import PASSWORD, REDIRECT_URI, Site
from tests.support.browser import pkce_pair


def authorize_url(site: Site, *, client_id: str | None = None, scope: str = "openid profile email offline_access notes:read") -> str:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id or site.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{site.url}/authorize?{urlencode(params)}"


def open_login(page: Page, site: Site) -> None:
    page.goto(authorize_url(site))
    page.wait_for_url(f"{site.url}/login?**")


def sign_in(page: Page, site: Site, password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(site.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def reach_consent(page: Page, site: Site) -> None:
    open_login(page, site)
    sign_in(page, site)
    page.wait_for_url(f"{site.url}/authorize/continue?**")
