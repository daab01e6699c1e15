"""Which URLs and addresses a client may make the service fetch from."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges that `is_global` misses or that must never be reached from client input:
# the cloud metadata service lives at 169.254.169.254 (link-local) and fd00:ec2::254.
_ALWAYS_REFUSED = (
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT (RFC 6598)
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 can reach any IPv4 address, private ones included
)


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address; private, loopback, link-local,
    multicast, reserved and unspecified addresses are not public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public_address(address.ipv4_mapped)
    if any(address in network for network in _ALWAYS_REFUSED):
        return False
    return address.is_global and not address.is_multicast


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    address = literal_address(host)
    return address is not None and address.is_loopback


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def url_problem(url: str, *, allow_private: bool, allow_http: bool | None = None) -> str | None:
    """Why the service would refuse to fetch `url`, or None. Checks what the URL itself
    says; the fetcher checks the resolved addresses again before connecting."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} is not an absolute https URL"
    if parts.fragment:
        return f"{url!r} has a fragment; remove the part after '#'"
    if parts.username or parts.password:
        return f"{url!r} carries credentials; remove the user:password@ part"
    del port
    if parts.scheme != "https" and not (allow_private if allow_http is None else allow_http):
        return f"{url!r} uses plain http; use https (or set TOKEN_SERVICE_ALLOW_PRIVATE_URLS=true for local development)"
    if allow_private:
        return None
    host = parts.hostname
    address = literal_address(host)
    if host == "localhost" or host.endswith(".localhost") or (address is not None and not is_public_address(address)):
        return (
            f"{url!r} points at a loopback or private address, which the service does not fetch from "
            "(set TOKEN_SERVICE_ALLOW_PRIVATE_URLS=true for local development)"
        )
    return None
