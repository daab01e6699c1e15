"""Plays the browser between a connector and an upstream: follow the authorization URL, read the redirect back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from token_service.login.connectors.base import UpstreamConnector
from token_service.users.models import UpstreamProfile

REDIRECT_URI = "http://127.0.0.1:8000/login/callback"


async def redirect_back(http: httpx.AsyncClient, authorization_url: str) -> dict[str, str]:
    response = await http.get(authorization_url)
    assert response.status_code in (302, 303, 307), (response.status_code, response.text)
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return dict(parse_qsl(urlsplit(location).query))


async def sign_in(
    connector: UpstreamConnector,
    http: httpx.AsyncClient,
    tamper: Callable[[dict[str, str], dict[str, Any]], None] | None = None,
) -> UpstreamProfile:
    url, saved = await connector.begin(REDIRECT_URI)
    params = await redirect_back(http, url)
    if tamper is not None:
        tamper(params, saved)
    return await connector.complete(REDIRECT_URI, params, saved)
