"""Client ID Metadata Documents: a URL as client_id, fetched safely, checked, cached, and used
like a registered client; every broken document is refused with the reason."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.clients.test_outbound_fetcher import stand_in_internet
from tests.registration.conftest import API, RegistrationService
from tests.support.browser import Browser, query_of
from tests.support.client_keys import new_key
from tests.support.clock import FakeClock
from tests.support.metadata_documents import DocumentServer, Served, document_server
from tests.support.password_login import PASSWORD
from tests.support.token_service import decode_segment
from token_service.clients.documents import DOCUMENT_POLICY, ClientDocumentRefused, ClientDocuments
from token_service.outbound import FetchPolicy, OutboundFetcher

REDIRECT = "http://127.0.0.1:9999/callback"
GOOD = {"client_name": "Notes CLI", "redirect_uris": [REDIRECT], "scope": "openid notes:read", "audience": API, "logo_uri": "https://x.example/l.png"}


@pytest.fixture(scope="module")
def documents() -> Iterator[DocumentServer]:
    with document_server() as server:
        yield server


def test_a_good_document_completes_a_code_flow_with_pkce(registrar: RegistrationService, documents: DocumentServer) -> None:
    client_id = documents.put_client("/apps/notes-cli.json", **GOOD)
    browser = Browser()
    try:
        login = browser.authorize(registrar.url, client_id, REDIRECT, scope="openid notes:read")
        assert isinstance(login, httpx.Response) and login.status_code == 200, getattr(login, "text", login)
        consent = browser.submit_password(login, "erin", PASSWORD, REDIRECT)
        assert isinstance(consent, httpx.Response) and "Allow access?" in consent.text
        host = client_id.split("/")[2]
        assert "Notes CLI" in consent.text and "Application described by" in consent.text and host in consent.text
        redirect = browser.consent(consent, "allow", REDIRECT)
        assert isinstance(redirect, str)
        code = query_of(redirect)["code"]
        token = httpx.post(
            f"{registrar.url}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id, "code_verifier": browser.last_verifier},
        )
        assert token.status_code == 200, token.text
        claims = decode_segment(token.json()["access_token"], 1)
        assert claims["client_id"] == client_id and API in claims["aud"]
    finally:
        browser.close()


def test_a_redirect_uri_not_in_the_document_is_refused(registrar: RegistrationService, documents: DocumentServer) -> None:
    client_id = documents.put_client("/apps/exact.json", **GOOD)
    page = Browser().authorize(registrar.url, client_id, "http://127.0.0.1:9999/callback/other")
    assert isinstance(page, httpx.Response) and page.status_code == 400 and "redirect_uri is not registered" in html.unescape(page.text)


PRIVATE_JWK = new_key().as_dict(private=True)
REFUSED: list[Any] = [
    pytest.param("/bad/mismatch.json", lambda url: Served(b'{"client_id": "https://other.example/client.json"}'), "it must be exactly the URL", id="client-id-mismatch"),
    pytest.param("/bad/big.json", lambda url: Served(('{"client_id": "%s", "pad": "%s"}' % (url, "x" * 6000)).encode()), "limit of 5120", id="oversized"),
    pytest.param("/bad/page.html", lambda url: Served(b"<html>hello</html>", "text/html"), "content type 'text/html'", id="not-json-content-type"),
    pytest.param("/bad/broken.json", lambda url: Served(b"{not json"), "is not valid JSON", id="not-json"),
    pytest.param(
        "/bad/private-key.json",
        lambda url: Served(('{"client_id": "%s", "redirect_uris": ["%s"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [%s]}}'
                            % (url, REDIRECT, __import__("json").dumps(PRIVATE_JWK))).encode()),
        "contains the private member 'd'",
        id="private-key",
    ),
    pytest.param(
        "/bad/secret.json",
        lambda url: Served(('{"client_id": "%s", "redirect_uris": ["%s"], "client_secret": "0123456789abcdef0123456789abcdef"}' % (url, REDIRECT)).encode()),
        "cannot carry a secret",
        id="client-secret",
    ),
    pytest.param(
        "/bad/basic.json",
        lambda url: Served(('{"client_id": "%s", "redirect_uris": ["%s"], "token_endpoint_auth_method": "client_secret_basic"}' % (url, REDIRECT)).encode()),
        "uses 'none' (public, PKCE) or 'private_key_jwt'",
        id="secret-auth-method",
    ),
    pytest.param(
        "/bad/redirect.json",
        lambda url: Served(('{"client_id": "%s", "redirect_uris": ["javascript:alert(1)"]}' % url).encode()),
        "redirect_uris: 'javascript:alert(1)' uses the javascript: scheme",
        id="bad-redirect-uri",
    ),
    pytest.param("/bad/missing.json", lambda url: Served(b"gone", "text/plain", status=404), "answered HTTP 404", id="not-found"),
    pytest.param("/bad/nested.json", lambda url: Served(b"[" * 4000), "is not valid JSON", id="nested-past-the-parser"),
]


@pytest.mark.parametrize(("path", "serve", "reason"), REFUSED)
def test_a_broken_document_is_refused_with_the_reason(registrar: RegistrationService, documents: DocumentServer, path: str, serve: Any, reason: str) -> None:
    client_id = documents.url(path)
    documents.documents[path] = serve(client_id)
    page = Browser().authorize(registrar.url, client_id, REDIRECT)
    assert isinstance(page, httpx.Response) and page.status_code == 400
    assert "cannot be used" in page.text and reason in html.unescape(page.text)
    token = httpx.post(f"{registrar.url}/token", data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT, "client_id": client_id})
    assert token.status_code == 401 and token.json()["error"] == "invalid_client" and reason in token.json()["error_description"]


def test_a_slow_server_is_given_up_on(registrar: RegistrationService, documents: DocumentServer) -> None:
    client_id = documents.put_client("/slow/app.json", **GOOD)
    documents.documents["/slow/app.json"].delay = DOCUMENT_POLICY.timeout + 2
    page = Browser().authorize(registrar.url, client_id, REDIRECT)
    assert isinstance(page, httpx.Response) and page.status_code == 400
    assert f"did not arrive within {DOCUMENT_POLICY.timeout:g} s" in html.unescape(page.text)


def documents_client(policy: FetchPolicy, fetcher: OutboundFetcher | None = None, clock: FakeClock | None = None) -> tuple[ClientDocuments, OutboundFetcher]:
    own = fetcher or OutboundFetcher()
    return ClientDocuments(own, policy, clock=clock or FakeClock()), own


def resolve(documents: ClientDocuments, fetcher: OutboundFetcher, *urls: str) -> list[Any]:
    async def run() -> list[Any]:
        out: list[Any] = []
        try:
            for url in urls:
                try:
                    out.append(await documents.client(url))
                except ClientDocumentRefused as exc:
                    out.append(exc.reason)
        finally:
            await fetcher.aclose()
        return out

    return asyncio.run(run())


def test_without_the_setting_loopback_and_redirects_to_it_are_refused(documents: DocumentServer) -> None:
    target = documents.put_client("/private/app.json", **GOOD)
    port = target.split(":")[2].split("/")[0]
    documents.documents["/public/app.json"] = Served(b"", location=target)
    # A name that resolves to a public address (played by the local server) redirecting to 127.0.0.1.
    fetcher = stand_in_internet({"docs.example.test": "127.0.0.1"})
    client, own = documents_client(replace(DOCUMENT_POLICY, allow_private=False, allow_http=True), fetcher)
    before = documents.requests.get("/private/app.json", 0)
    redirected, direct = resolve(client, own, f"http://docs.example.test:{port}/public/app.json", target)
    assert isinstance(redirected, str) and f"redirects to {target}, which is refused" in redirected and "loopback or private" in redirected
    assert isinstance(direct, str) and "loopback or private address" in direct
    assert documents.requests.get("/private/app.json", 0) == before, "the private address was never contacted"


def test_plain_http_client_ids_need_the_setting(documents: DocumentServer) -> None:
    client, own = documents_client(DOCUMENT_POLICY)
    [reason] = resolve(client, own, documents.put_client("/http/app.json", **GOOD))
    assert "uses plain http" in reason and "TOKEN_SERVICE_ALLOW_PRIVATE_URLS" in reason


def test_a_changed_document_takes_effect_when_its_cache_expires(documents: DocumentServer) -> None:
    clock = FakeClock()
    url = documents.put_client("/cache/app.json", **GOOD)
    documents.documents["/cache/app.json"].cache_control = "max-age=5"  # below the floor: held 60 s
    policy = replace(DOCUMENT_POLICY, allow_private=True)

    async def run() -> list[tuple[str, ...]]:
        fetcher = OutboundFetcher()
        client = ClientDocuments(fetcher, policy, clock=clock)
        seen = [(await client.client(url)).redirect_uris]
        documents.put_client("/cache/app.json", **{**GOOD, "redirect_uris": ["http://127.0.0.1:9999/moved"]})
        clock.advance(59)
        seen.append((await client.client(url)).redirect_uris)
        clock.advance(2)
        seen.append((await client.client(url)).redirect_uris)
        await fetcher.aclose()
        return seen

    assert asyncio.run(run()) == [(REDIRECT,), (REDIRECT,), ("http://127.0.0.1:9999/moved",)]
    assert documents.requests["/cache/app.json"] == 2


def test_an_operator_cannot_store_a_client_under_a_document_url(registrar: RegistrationService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.token_service.test_settings import run_cli

    env = {"TOKEN_SERVICE_DATA_DIR": str(registrar.service.settings.data_dir)}
    code, err = run_cli(monkeypatch, capsys, env, "clients", "add", "--grant", "client_credentials", "--client-id", "https://app.example.com/client.json")
    assert code == 2 and "names a client ID metadata document" in err


def test_fetches_from_one_host_are_limited(documents: DocumentServer) -> None:
    from limits.aio.storage import MemoryStorage

    from token_service.ratelimit import DocumentFetchLimits, RateLimiter

    limits = DocumentFetchLimits(RateLimiter(MemoryStorage()), per_host="2/minute")
    fetcher = OutboundFetcher()
    client = ClientDocuments(fetcher, replace(DOCUMENT_POLICY, allow_private=True), clock=FakeClock(), fetch_limits=limits)
    urls = [documents.put_client(f"/many/{n}.json", **GOOD) for n in range(3)]
    first, second, third = resolve(client, fetcher, *urls)
    assert not isinstance(first, str) and not isinstance(second, str)
    assert isinstance(third, str) and "too many client metadata documents were fetched from 127.0.0.1" in third
    assert "/many/2.json" not in documents.requests


def test_a_document_clients_redirect_origin_may_call_the_token_endpoint(registrar: RegistrationService, documents: DocumentServer) -> None:
    import time

    origin = "http://127.0.0.1:9997"
    client_id = documents.put_client("/apps/spa.json", **{**GOOD, "redirect_uris": [f"{origin}/callback"]})
    page = Browser().authorize(registrar.url, client_id, f"{origin}/callback", scope="openid notes:read")
    assert isinstance(page, httpx.Response) and page.status_code == 200  # the document is fetched and cached
    deadline = time.monotonic() + 8  # the allowed origins are rebuilt every few seconds
    while True:
        preflight = httpx.options(f"{registrar.url}/token", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        if preflight.status_code == 204 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == origin
