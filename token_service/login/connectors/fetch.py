"""GET a JSON document from an upstream, turning every way it can go wrong into one typed error."""

from __future__ import annotations

from typing import Any

import httpx

from token_service.login.connectors.errors import UpstreamUnavailableError


async def get_json(
    http: httpx.AsyncClient,
    upstream: str,
    url: str,
    what: str,
    headers: dict[str, str] | None = None,
    absent_statuses: tuple[int, ...] = (),
) -> Any:
    """The parsed JSON body; None when the status is one of `absent_statuses` (the document is not available to us)."""
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailableError(upstream, f"the {what} at {url} is unreachable ({type(exc).__name__})") from None
    if response.status_code in absent_statuses:
        return None
    if response.status_code != 200:
        raise UpstreamUnavailableError(upstream, f"the {what} at {url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        raise UpstreamUnavailableError(upstream, f"the {what} at {url} is not JSON") from None
