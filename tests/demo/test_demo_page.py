"""The demo page in a real browser: sign in through the real login page, add a note, reload, sign out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.demo.chromium import chromium
from tests.support.browser import add_user
from tests.support.live_server import free_port, live_server
from tests.support.token_service import issuer_settings, running_token_service
from token_service.dev import BROWSER_CLIENT_ID, browser_client_fields

PASSWORD = "correct horse battery staple"


@dataclass
class Demo:
    issuer: str
    api: str
    user_id: str


@pytest.fixture
def demo(make_settings: Any, tmp_path: Path) -> Iterator[Demo]:
    """Token service and resource API on free ports; demo-spa registered for the API's real URL."""
    settings = issuer_settings(make_settings, upstreams=[{"name": "local", "kind": "password"}])
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    with running_token_service(settings) as service:
        service.add_client(client_id=BROWSER_CLIENT_ID, **browser_client_fields(api))
        user_id = add_user(settings, "demo", PASSWORD, email="demo@example.com", name="Demo User")
        resource_settings = ResourceApiSettings(
            issuer=service.url,
            audience=api,
            database_url=f"sqlite+aiosqlite:///{(tmp_path / 'notes.db').as_posix()}",
            port=api_port,
        )
        with live_server(create_resource_app(resource_settings), port=api_port):
            yield Demo(issuer=service.url, api=api, user_id=user_id)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        yield page
        context.close()


def sign_in(page: Page, demo: Demo) -> None:
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{demo.issuer}/**")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{demo.api}/")


def test_page_is_served_with_a_strict_csp_and_its_config(demo: Demo) -> None:
    page = httpx.get(f"{demo.api}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert f"connect-src 'self' {demo.issuer}" in csp
    assert httpx.get(f"{demo.api}/demo-config.json").json() == {"issuer": demo.issuer, "client_id": BROWSER_CLIENT_ID, "api_url": demo.api}
    assert httpx.get(f"{demo.api}/static/app.js").status_code == 200


def test_sign_in_add_a_note_reload_and_sign_out(demo: Demo, page: Page) -> None:
    problems: list[str] = []
    page.on("console", lambda message: _note_problem(message, problems))
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("response", lambda response: _note_failed_response(response.status, response.url, problems))

    page.goto(f"{demo.api}/")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    sign_in(page, demo)

    # Back on the page: the code is gone from the address bar and /me answered for our user.
    expect(page.locator("#who")).to_have_text("Demo User")
    expect(page.locator("#claims")).to_contain_text(demo.user_id)
    assert "code=" not in page.url
    expect(page.get_by_text("No notes yet.")).to_be_visible()
    # Every token is DPoP-bound to a key the page cannot read (RFC 9449).
    expect(page.locator("#claims")).to_contain_text("DPoP-bound to this browser's key")

    page.get_by_label("Note").fill("buy oat milk")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#notes li")).to_have_count(1)
    expect(page.locator("#notes li").first).to_contain_text("buy oat milk")
    refresh_token = page.evaluate("sessionStorage.getItem('demo.refresh_token')")
    assert refresh_token
    # The private key sits in IndexedDB as a non-extractable CryptoKey ...
    assert page.evaluate(_READ_KEY) == {"extractable": False, "algorithm": "ECDSA", "curve": "P-256"}
    # ... so a refresh token copied out of the page is refused without a proof by that key.
    stolen = httpx.post(f"{demo.issuer}/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": BROWSER_CLIENT_ID})
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_dpop_proof"

    # A reload loses the in-memory access token; the refresh token in sessionStorage brings it back.
    page.reload()
    expect(page.locator("#who")).to_have_text("Demo User")
    expect(page.locator("#notes li").first).to_contain_text("buy oat milk")
    assert page.url == f"{demo.api}/"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{demo.api}/")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0

    # The session at the token service ended too: signing in again asks for the password.
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{demo.issuer}/**")
    expect(page.get_by_label("Password")).to_be_visible()
    assert problems == []


_READ_KEY = """() => new Promise((resolve, reject) => {
  const opening = indexedDB.open("demo-dpop");
  opening.onerror = () => reject(opening.error);
  opening.onsuccess = () => {
    const get = opening.result.transaction("keys").objectStore("keys").get("current");
    get.onsuccess = () => {
      const key = get.result.privateKey;
      resolve({ extractable: key.extractable, algorithm: key.algorithm.name, curve: key.algorithm.namedCurve });
    };
  };
})"""


def _note_problem(message: ConsoleMessage, problems: list[str]) -> None:
    # A CSP violation or a script error would mean the page only half works. Failed loads are
    # judged by `_note_failed_response`, which knows their URL.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(message.text)


def _note_failed_response(status: int, url: str, problems: list[str]) -> None:
    # The login page has no icon, and browsers ask for /favicon.ico anyway: not the demo's doing.
    if status >= 400 and not url.endswith("/favicon.ico"):
        problems.append(f"{status} from {url}")
