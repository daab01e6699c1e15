"""A branded token service, a logo on another origin, and Chromium for the page tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import pytest
from litestar import Litestar, Response, get
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.demo.chromium import chromium
from tests.pages.audit import require_axe
from tests.support.browser import add_user
from tests.support.live_server import LiveServer, live_server
from tests.support.token_service import RunningTokenService, issuer_settings, upgrade_database
from token_service.app import create_app
from token_service.clients.models import Client

REDIRECT_URI = "http://127.0.0.1:9999/callback"
API = "http://127.0.0.1:8001"
PASSWORD = "correct horse battery staple"
BRAND = {"brand_name": "Example Corp Sign-in", "brand_accent_color": "#0b6e4f"}
CLIENT_NAME = "Notes Reader"
LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="18" fill="#0b6e4f"/></svg>'


@pytest.fixture
def backend() -> str:
    # What a page shows does not depend on the storage backend; both backends run the
    # same flows in tests/authorization, so the browser runs once, on SQLite.
    return "sqlite"


@get("/logo.svg")
async def logo() -> Response[bytes]:
    return Response(LOGO, media_type="image/svg+xml")


@pytest.fixture(scope="module")
def logo_server() -> Iterator[LiveServer]:
    with live_server(Litestar([logo])) as server:
        yield server


T = TypeVar("T")


def client_has_a_name() -> bool:
    """Whether the client model carries RFC 7591's client_name (the consent page shows it, else the id)."""
    return any(field.name == "client_name" for field in fields(Client))


def off_the_browser_loop(step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs a set-up step that calls asyncio.run in a thread of its own: Playwright's sync
    API keeps an event loop running in this one while the module's browser is open."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(step, *args, **kwargs).result()


@dataclass
class Site:
    service: RunningTokenService
    client_id: str
    username: str

    @property
    def url(self) -> str:
        return self.service.url


def start_site(make_settings: Any, logo_url: str | None, **brand: str) -> Iterator[Site]:
    settings = issuer_settings(
        make_settings,
        upstreams=[
            {"name": "github", "kind": "github", "display_name": "GitHub", "client_id": "gh-client", "client_secret": "gh-secret"},
            {"name": "local", "kind": "password"},
        ],
        brand_logo_url=logo_url,
        **brand,
    )
    off_the_browser_loop(upgrade_database, settings)
    with live_server(create_app(settings), port=settings.port) as server:
        service = RunningTokenService(server.url, settings)
        # A third-party client: the person is asked before it gets anything.
        client_id, _ = off_the_browser_loop(
            service.add_client,
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=["http://127.0.0.1:9999/signed-out"],
            scope="openid profile email offline_access notes:read",
            audience=API,
            public=True,
            **({"client_name": CLIENT_NAME} if client_has_a_name() else {}),
        )
        off_the_browser_loop(add_user, settings, "alice", PASSWORD, email="alice@example.com", name="Alice")
        yield Site(service, client_id, "alice")


@pytest.fixture
def site(make_settings: Any, logo_server: LiveServer) -> Iterator[Site]:
    yield from start_site(make_settings, f"{logo_server.url}/logo.svg", **BRAND)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    require_axe()
    with chromium() as browser:
        yield browser


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page(chromium_browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 800, "height": 900})
    page = context.new_page()

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            console_errors.append(message.text)

    page.on("console", note)
    # The client's redirect URI answers inside the browser; nothing listens there.
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, content_type="text/plain", body="back at the client"))
    yield page
    context.close()
