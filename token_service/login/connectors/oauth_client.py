"""The OAuth 2.0 client side of a login (authorization URL with PKCE, code exchange), via Authlib."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    # Authlib announces its move to the `httpx2` package on import when only httpx is
    # installed; the notice would only confuse people starting `dev`.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from token_service.login.connectors.errors import UpstreamDeniedError, UpstreamUnavailableError


def new_secret() -> str:
    # 256 bits; also a valid RFC 7636 code_verifier (43 unreserved characters).
    return secrets.token_urlsafe(32)


# Headers that describe the bytes on one hop: each client sets its own.
_HOP_HEADERS = frozenset({"host", "content-length", "content-encoding", "transfer-encoding", "connection"})


class _SharedTransport(httpx2.AsyncBaseTransport):
    """Sends Authlib's requests through the service's one HTTP client: one connection pool, one TLS and proxy setup.

    Authlib's client is an `httpx2` client whenever `httpx2` is installed (the `mcp` package
    brings it), while the service's client is `httpx`: each request and answer is carried
    across as method, URL, headers and bytes (token requests and answers are small).
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        response = await self._client.request(request.method, str(request.url), headers=headers, content=await request.aread())
        # `content` is already decoded: the encoding headers no longer describe it.
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        return httpx2.Response(response.status_code, headers=kept, content=response.content, request=request)


@asynccontextmanager
async def oauth_client(
    http: httpx.AsyncClient, *, client_id: str, client_secret: str | None, auth_method: str, scope: str
) -> AsyncIterator[AsyncOAuth2Client]:
    # A client per login: Authlib keeps the fetched token on the client object, so sharing
    # one between concurrent logins would mix their tokens up.
    client = AsyncOAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=auth_method,
        scope=scope,
        code_challenge_method="S256",
        transport=_SharedTransport(http),
        timeout=http.timeout,
    )
    async with client:
        yield client


def authorization_url(client: AsyncOAuth2Client, endpoint: str, redirect_uri: str, **extra: str) -> tuple[str, dict[str, str]]:
    """The URL to send the browser to, and the state and PKCE verifier to keep for the way back."""
    state, verifier = new_secret(), new_secret()
    url, _ = client.create_authorization_url(endpoint, state=state, code_verifier=verifier, redirect_uri=redirect_uri, **extra)
    return url, {"state": state, "code_verifier": verifier}


async def exchange_code(
    client: AsyncOAuth2Client, upstream: str, token_endpoint: str, *, code: str, redirect_uri: str, code_verifier: str
) -> dict[str, Any]:
    try:
        token = await client.fetch_token(
            token_endpoint, grant_type="authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
    except OAuthError as exc:
        raise UpstreamDeniedError(upstream, str(exc.error), exc.description or None) from None
    except (httpx.HTTPStatusError, httpx2.HTTPStatusError) as exc:
        raise UpstreamUnavailableError(upstream, f"the token endpoint answered HTTP {exc.response.status_code}") from None
    except (httpx.HTTPError, httpx2.HTTPError) as exc:
        raise UpstreamUnavailableError(upstream, f"the token endpoint {token_endpoint} is unreachable ({type(exc).__name__})") from None
    except ValueError as exc:
        raise UpstreamUnavailableError(upstream, f"the token endpoint's answer is not a token response ({exc})") from None
    if not isinstance(token.get("access_token"), str):
        raise UpstreamUnavailableError(upstream, "the token response has no access_token")
    return dict(token)
