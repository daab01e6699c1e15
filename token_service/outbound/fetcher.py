"""Fetch a JSON document from a URL a client gave us, without becoming an SSRF proxy.

Each hop (the URL and every redirect target) is checked by URL, its host resolved
once, every resolved address checked, and the connection made to the vetted address
(the original host name still goes in `Host` and in TLS SNI, so certificates verify
as usual). Re-resolving after the check would let a DNS answer with a short TTL
swap a public address for 169.254.169.254 in between (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from token_service.outbound.addresses import IPAddress, is_public_address, literal_address, url_problem

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class OutboundError(Exception):
    """The document could not be fetched; `reason` says why in words an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundRefused(OutboundError):
    """The fetch was refused by policy (address, scheme, size, content), not by the network."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False
    """Allow plain http and loopback/private addresses (TOKEN_SERVICE_ALLOW_PRIVATE_URLS, development)."""
    allow_http: bool | None = None
    """Plain http; None follows allow_private."""
    max_bytes: int = 64 * 1024
    timeout: float = 5.0
    """Total seconds for the whole fetch, redirects and body included."""
    max_redirects: int = 2
    accept: str = "application/json"
    what: str = "the document"
    """Named in error messages, e.g. "the client's JWKS"."""


@dataclass(frozen=True)
class FetchedDocument:
    url: str
    """The URL the document finally came from (after redirects)."""
    data: dict[str, Any]
    cache_control: str | None
    """The response's Cache-Control header, for the caller's cache policy."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    result: list[IPAddress] = []
    for info in infos:
        address = literal_address(str(info[4][0]).split("%")[0])
        if address is not None and address not in result:
            result.append(address)
    return result


class OutboundFetcher:
    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        resolver: Resolver = system_resolver,
        address_allowed: Callable[[IPAddress], bool] = is_public_address,
    ) -> None:
        self._owns_client = http_client is None
        # No redirects (each one is vetted here) and no proxy from the environment:
        # a proxy would resolve the name itself and undo the address check.
        self._client = http_client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._resolve = resolver
        self._address_allowed = address_allowed

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def fetch_json(self, url: str, policy: FetchPolicy) -> FetchedDocument:
        """GET `url` and return its JSON object; raises OutboundError with the reason."""
        try:
            async with asyncio.timeout(policy.timeout):
                return await self._follow(url, policy)
        except TimeoutError:
            raise OutboundError(f"{policy.what} at {url} did not arrive within {policy.timeout:g} s") from None

    async def _follow(self, url: str, policy: FetchPolicy) -> FetchedDocument:
        current = url
        for _ in range(policy.max_redirects + 1):
            response = await self._send(current, policy)
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    target = urljoin(current, response.headers["location"])
                    # The target is vetted like the first URL (in _send); said here so the
                    # message names the redirect rather than an address the client never gave.
                    problem = url_problem(target, allow_private=policy.allow_private, allow_http=policy.allow_http)
                    if problem is not None:
                        raise OutboundRefused(f"{policy.what} at {url} redirects to {target}, which is refused: {problem}")
                    current = target
                    continue
                return await self._read(current, response, policy)
            finally:
                await response.aclose()
        raise OutboundRefused(f"{policy.what} at {url} redirects more than {policy.max_redirects} times")

    async def _send(self, url: str, policy: FetchPolicy) -> httpx.Response:
        problem = url_problem(url, allow_private=policy.allow_private, allow_http=policy.allow_http)
        if problem is not None:
            raise OutboundRefused(problem)
        parts = urlsplit(url)
        host = parts.hostname or ""
        headers = {"Accept": policy.accept, "Accept-Encoding": "identity"}
        extensions: dict[str, Any] = {}
        target = url
        if not policy.allow_private:
            address = await self._vetted_address(host, parts.port or (443 if parts.scheme == "https" else 80), url)
            shown = f"[{address}]" if address.version == 6 else str(address)
            netloc = shown + (f":{parts.port}" if parts.port else "")
            target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            headers["Host"] = parts.netloc
            extensions["sni_hostname"] = host
        request = self._client.build_request("GET", target, headers=headers, extensions=extensions)
        try:
            return await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise OutboundError(f"could not reach {url}: {type(exc).__name__} {exc}".rstrip()) from None

    async def _vetted_address(self, host: str, port: int, url: str) -> IPAddress:
        literal = literal_address(host)
        try:
            addresses = [literal] if literal is not None else await self._resolve(host, port)
        except OSError as exc:
            raise OutboundError(f"could not resolve the host of {url}: {exc}") from None
        if not addresses:
            raise OutboundError(f"the host of {url} has no address")
        # Every address must pass: a name answering with one public and one private
        # address could otherwise be steered to the private one.
        refused = [str(a) for a in addresses if not self._address_allowed(a)]
        if refused:
            raise OutboundRefused(
                f"{url} resolves to {', '.join(refused)}, a loopback, private or reserved address the service does not fetch from "
                "(set TOKEN_SERVICE_ALLOW_PRIVATE_URLS=true for local development)"
            )
        return addresses[0]

    async def _read(self, url: str, response: httpx.Response, policy: FetchPolicy) -> FetchedDocument:
        if response.status_code != 200:
            raise OutboundError(f"{policy.what} at {url} answered HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
            raise OutboundRefused(f"{policy.what} at {url} is {declared} bytes, over the limit of {policy.max_bytes}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise OutboundRefused(f"{policy.what} at {url} has content type {media_type or 'none'!r}; expected application/json")
        body = bytearray()
        async for chunk in response.aiter_raw():
            body.extend(chunk)
            if len(body) > policy.max_bytes:
                raise OutboundRefused(f"{policy.what} at {url} is larger than the limit of {policy.max_bytes} bytes")
        try:
            data = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting raises RecursionError
            raise OutboundRefused(f"{policy.what} at {url} is not valid JSON") from None
        if not isinstance(data, dict):
            raise OutboundRefused(f"{policy.what} at {url} is not a JSON object")
        return FetchedDocument(url=url, data=data, cache_control=response.headers.get("cache-control"))
