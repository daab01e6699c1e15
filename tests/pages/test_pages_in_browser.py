"""Every page a person sees, in headless Chromium: branded, readable, accessible (axe-core), captured."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.pages.audit import audit
from tests.pages.conftest import API, BRAND, CLIENT_NAME, REDIRECT_URI, Site, client_has_a_name, start_site
from tests.pages.flows import authorize_url, open_login, reach_consent, sign_in
from token_service.pages.branding import WHITE, contrast_ratio, parse_hex


def assert_branded(page: Page, logo_origin: str | None = None) -> None:
    expect(page.locator("header .brand-name")).to_have_text(BRAND["brand_name"])
    assert page.title().endswith(f"· {BRAND['brand_name']}")
    if logo_origin is not None:
        logo = page.locator("header img.brand-logo")
        assert logo.get_attribute("src", timeout=1000) == f"{logo_origin}/logo.svg"
        # Loaded, so the CSP admits the logo's origin.
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0")


def background_of(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor"))


def test_login_page_is_branded_accessible_and_offers_every_way_in(site: Site, page: Page, console_errors: list[str], logo_server: Any) -> None:
    open_login(page, site)
    assert_branded(page, logo_server.url)
    expect(page.get_by_role("link", name="Continue with GitHub")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_visible()
    # The accent colour from the settings is the primary button's background.
    assert background_of(page, "button.primary") == "rgb(11, 110, 79)"
    # Keyboard order: the upstream button, then username, password, and the submit button.
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.textContent.trim() || document.activeElement.id"))
    assert order == ["Continue with GitHub", "username", "password", "Sign in"]
    audit(page, "login")

    sign_in(page, site, password="wrong password!")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    audit(page, "login-error")
    assert console_errors == []


def test_consent_page_names_the_client_its_destination_api_and_scopes_in_words(site: Site, page: Page, console_errors: list[str]) -> None:
    reach_consent(page, site)
    main = page.locator("main")
    expect(main.locator("h1")).to_have_text("Allow access?")
    expect(main.locator(".lead strong").first).to_have_text(CLIENT_NAME if client_has_a_name() else site.client_id)
    expect(main).to_contain_text("You are signed in as alice")
    terms = main.locator("dl.facts dt").all_inner_texts()
    details = main.locator("dl.facts dd").all_inner_texts()
    expected = {"It will use this API for you": API, "After you answer, you return to": "127.0.0.1:9999"}
    # A name is the client's own claim: the id it is registered under is shown beside it.
    assert dict(zip(terms, details)) == expected | ({"Application ID": site.client_id} if client_has_a_name() else {})
    scopes = main.locator("ul.scopes li").all_inner_texts()
    assert scopes == [
        "Confirm who you are with your account's identifier (openid)",
        "See your name and basic profile details (profile)",
        "See your email address and whether it is verified (email)",
        "Keep access after you close it, until you revoke it or the access expires (offline_access)",
        "notes:read",
    ]
    assert_branded(page)
    audit(page, "consent")

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT_URI}?**")
    assert "code=" in page.url and "state=s1" in page.url
    assert console_errors == []


def test_logout_confirmation_and_signed_out_pages(site: Site, page: Page, console_errors: list[str]) -> None:
    reach_consent(page, site)
    page.goto(f"{site.url}/logout")
    expect(page.locator("h1")).to_have_text("Sign out?")
    assert_branded(page)
    audit(page, "logout-confirmation")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Signed out")
    expect(page.locator("main")).to_contain_text(f"You are signed out of {BRAND['brand_name']}")
    audit(page, "signed-out")
    assert console_errors == []


def test_unknown_client_gets_an_error_page_that_says_what_to_do(site: Site, page: Page, console_errors: list[str]) -> None:
    response = page.goto(authorize_url(site, client_id="no-such-app"))
    assert response is not None and response.status == 400
    main = page.locator("main")
    expect(main.locator("h1")).to_have_text("Unknown application")
    expect(main).to_contain_text("no-such-app")
    expect(main.locator("h2")).to_have_text("What you can do")
    expect(main).to_contain_text("Go back to the application and try again")
    assert_branded(page)
    audit(page, "error-unknown-client")

    page.goto(f"{site.url}/login?tx=expired")
    expect(page.locator("h1")).to_have_text("Sign-in expired")
    expect(page.locator("main")).to_contain_text("start again")
    audit(page, "error-expired-sign-in")
    assert console_errors == []


def test_a_low_contrast_accent_is_darkened_until_readable(make_settings: Any, page: Page) -> None:
    for site in start_site(make_settings, None, brand_name="Pale Corp", brand_accent_color="#ffdd00"):
        open_login(page, site)
        button = background_of(page, "button.primary")
        red, green, blue = (int(part) for part in re.findall(r"\d+", button))
        assert (red, green, blue) != parse_hex("#ffdd00")
        assert contrast_ratio((red, green, blue), WHITE) >= 4.5
        # Same hue, only darker: still recognisably the operator's yellow.
        assert red > green > blue == 0
        assert page.locator("header img").count() == 0
        audit(page, "login-low-contrast-accent")


def test_sign_in_and_consent_work_without_javascript(site: Site, chromium_browser: Any) -> None:
    context = chromium_browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, content_type="text/plain", body="back at the client"))
        reach_consent(page, site)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{REDIRECT_URI}?**")
        assert "code=" in page.url
    finally:
        context.close()


def test_pages_allow_no_script_and_only_the_services_own_stylesheet(site: Site, logo_server: Any) -> None:
    page = httpx.get(authorize_url(site, client_id="no-such-app"))
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self';" in csp and "unsafe-inline" not in csp
    assert f"img-src 'self' {logo_server.url};" in csp
    assert "<script" not in page.text and "style=" not in page.text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)">', page.text)
    assert href is not None and href.group(1).startswith("/pages/style.css?v=")
    sheet = httpx.get(f"{site.url}{href.group(1)}")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
    assert sheet.text.startswith(":root{--accent:#0b6e4f}")
