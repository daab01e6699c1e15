"""The client's IP address: what every per-IP limit counts.

`X-Forwarded-For` is written by whoever sends the request, so only the entries appended
by our own proxies mean anything. The header is read only when the TCP peer is a
configured trusted proxy (`TOKEN_SERVICE_TRUSTED_PROXIES`), and then from the right:
each trusted proxy appends the address it saw, so the right-most address that is not
one of ours is the client as our outermost proxy saw it. Everything left of it is the
client's own say and is ignored. Taking the left-most entry (what a `*` trust setting
does) lets any client pick a fresh address per request and escape every limit.

The edge layer resolves the address once per request and puts it in the ASGI scope's
`client`, so handlers, logs and limits all read the same value through `client_ip`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    # "[2001:db8::1]:443" and "192.0.2.1:443" are what some proxies append.
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """Comma-separated addresses or CIDRs. Raises ValueError naming the bad entry."""
        networks: list[Network] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            if entry == "*":
                raise ValueError(
                    "`*` would trust X-Forwarded-For from anyone, so every client could choose its own address "
                    "and escape the per-IP limits; list your proxies' addresses or CIDRs, e.g. 10.0.0.5,172.28.0.0/24"
                )
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR; write e.g. 10.0.0.5 or 172.28.0.0/24") from None
        return cls(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.networks)

    def client_of(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client address of a request that arrived from `peer` carrying these
        X-Forwarded-For header values (in the order received)."""
        peer_address = _address(peer)
        if peer_address is None or not self.trusts(peer_address):
            return peer
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        nearest = str(peer_address)
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # A trusted proxy passed on something that is not an address: the last
                # address we can vouch for is the hop that handed it over.
                return nearest
            if not self.trusts(address):
                return str(address)
            nearest = str(address)
        return nearest


def resolve_client(scope: Scope, proxies: TrustedProxies) -> None:
    """Replaces the scope's `client` by the real client when the peer is a trusted proxy."""
    client = scope.get("client")
    if not proxies or client is None:
        return
    forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
    if forwarded:
        scope["client"] = (proxies.client_of(client[0], forwarded), client[1])


def client_ip(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The one answer to "which address is this client": the peer, or what our proxies saw."""
    client = request.client
    return client.host if client is not None and client.host else UNKNOWN
