"""The MCP Python SDK's client with its OAuth support, and the person at the browser.

`McpUser` plays the browser part the SDK leaves to its host application: its
`redirect_handler` opens the authorization URL, signs in with the password connector,
allows the consent page, and stops at the client's redirect URI; `callback_handler`
hands what arrived there (code, state, iss) back to the SDK.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.support.browser import hidden_fields, query_of

__all__ = ["McpUser", "MemoryTokenStorage", "connected_client"]


@dataclass
class MemoryTokenStorage:
    """The SDK's TokenStorage protocol, in memory (a desktop client would use its keychain)."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class McpUser:
    """A person who signs in when the MCP client opens the browser."""

    username: str
    password: str
    redirect_uri: str
    authorization_urls: list[str] = field(default_factory=list)
    pages_seen: list[str] = field(default_factory=list)
    _landed: str | None = None

    async def open_browser(self, url: str) -> None:
        self.authorization_urls.append(url)
        async with httpx.AsyncClient(follow_redirects=False, timeout=15) as browser:
            page = await self._follow(browser, await browser.get(url))
            for _ in range(3):
                if isinstance(page, str):
                    self._landed = page
                    return
                self.pages_seen.append(page.text)
                if 'name="password"' in page.text:
                    form = {**hidden_fields(page.text), "username": self.username, "password": self.password}
                    page = await self._follow(browser, await browser.post(str(page.url.join("/login/password")), data=form))
                elif re.search(r'name="decision"', page.text):
                    form = {**hidden_fields(page.text), "decision": "allow"}
                    page = await self._follow(browser, await browser.post(str(page.url.join("/consent")), data=form))
                else:
                    break
            raise AssertionError(f"the sign-in did not come back to the client: {getattr(page, 'text', page)[:2000]}")

    async def _follow(self, browser: httpx.AsyncClient, response: httpx.Response) -> httpx.Response | str:
        for _ in range(10):
            if response.status_code not in (302, 303):
                return response
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(self.redirect_uri):
                return location
            response = await browser.get(location)
        raise AssertionError("too many redirects")

    async def callback(self) -> AuthorizationCodeResult:
        assert self._landed is not None, "the browser never reached the redirect URI"
        params = query_of(self._landed)
        assert "error" not in params, params
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))


@asynccontextmanager
async def connected_client(
    mcp_url: str,
    user: McpUser,
    storage: MemoryTokenStorage,
    *,
    client_name: str = "Test MCP client",
    client_metadata_url: str | None = None,
) -> AsyncIterator[Client]:
    """An MCP client session to `mcp_url`, authorizing through the SDK's OAuth provider when asked."""
    metadata = OAuthClientMetadata(
        client_name=client_name,
        redirect_uris=[user.redirect_uri],  # type: ignore[list-item]  # pydantic parses the str
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        # token_endpoint_auth_method left as the SDK leaves it: RFC 7591's default is a secret
        # method, which open registration answers with a public client.
    )
    auth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=user.open_browser,
        callback_handler=user.callback,
        client_metadata_url=client_metadata_url,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
            yield client


def structured(result: Any) -> Any:
    """A tool result's structured content, failing with the tool's message when it is an error."""
    assert not result.is_error, result.content
    return result.structured_content
