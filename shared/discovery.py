"""Finding an issuer's `jwks_uri` from its metadata (OIDC Discovery 1.0, RFC 8414)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .errors import IssuerMismatch, KeySetUnavailable

__all__ = ["discover_jwks_uri", "metadata_urls", "read_metadata"]

# A metadata document is a few kilobytes; anything far larger is not one.
MAX_DOCUMENT_BYTES = 1_000_000


def metadata_urls(issuer: str) -> tuple[str, str]:
    """The OIDC and the RFC 8414 metadata URLs for an issuer, in the order to try them.

    OIDC Discovery §4 appends the well-known suffix to the issuer; RFC 8414 §3
    inserts it between host and path. The two differ only for issuers with a path.
    """
    oidc = issuer.rstrip("/") + "/.well-known/openid-configuration"
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oauth = urlunsplit((parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", ""))
    return oidc, oauth


def parse_json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The response body as a JSON object, or KeySetUnavailable saying what was wrong."""
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise KeySetUnavailable(f"{what} at {response.request.url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(response.content)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        raise KeySetUnavailable(f"{what} at {response.request.url} is not valid JSON") from None
    if not isinstance(document, dict):
        raise KeySetUnavailable(f"{what} at {response.request.url} is not a JSON object")
    return document


async def read_metadata(client: httpx.AsyncClient, issuer: str) -> tuple[str, dict[str, Any]]:
    """The issuer's metadata document and the URL it came from.

    The metadata must name exactly the configured issuer: otherwise tokens would be
    checked against keys (or requested from endpoints) of a server that is not the one
    `iss` promises.
    """
    response: httpx.Response | None = None
    for url in dict.fromkeys(metadata_urls(issuer)):
        try:
            response = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise KeySetUnavailable(f"could not reach {url}: {type(exc).__name__} {exc}".rstrip()) from exc
        if response.status_code != 404:
            break
    assert response is not None
    url = str(response.request.url)
    if response.status_code != 200:
        raise KeySetUnavailable(f"the metadata endpoint {url} answered HTTP {response.status_code}")
    metadata = parse_json_object(response, "the metadata document")
    named = metadata.get("issuer")
    if named != issuer:
        raise IssuerMismatch(
            f"the metadata at {url} names issuer {named!r}, but the configured issuer is {issuer!r}; "
            "they must match exactly (scheme, host, port, path and trailing slash)"
        )
    return url, metadata


async def discover_jwks_uri(client: httpx.AsyncClient, issuer: str) -> str:
    """Read the issuer's metadata and return its `jwks_uri`."""
    url, metadata = await read_metadata(client, issuer)
    jwks_uri = metadata.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise KeySetUnavailable(f"the metadata at {url} has no usable jwks_uri (got {jwks_uri!r})")
    return jwks_uri
