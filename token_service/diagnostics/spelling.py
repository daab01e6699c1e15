"""Why two issuer URLs that look alike are different strings.

Issuer comparison is exact (OIDC Discovery §4.3, RFC 9068 §4), so `http://localhost:8000`,
`http://127.0.0.1:8000` and `http://127.0.0.1:8000/` are three different issuers even
though they reach the same server. Both `explain` and `doctor` name the difference.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from token_service.settings import is_loopback_host


def spelling_difference(expected: str, actual: str) -> str | None:
    """What separates two URLs of the same server, or None when they are not the same server."""
    if expected == actual:
        return None
    if expected.rstrip("/") == actual.rstrip("/"):
        return "they differ only by a trailing slash"
    a, b = urlsplit(expected), urlsplit(actual)
    try:
        ports = (a.port or _default_port(a.scheme), b.port or _default_port(b.scheme))
    except ValueError:
        return None
    same_path = a.path.rstrip("/") == b.path.rstrip("/")
    host_a, host_b = a.hostname or "", b.hostname or ""
    if same_path and a.scheme == b.scheme and ports[0] == ports[1] and host_a.lower() == host_b.lower():
        return "they differ only in letter case"
    if same_path and a.scheme == b.scheme and ports[0] == ports[1] and is_loopback_host(host_a) and is_loopback_host(host_b):
        return f"{host_a} and {host_b} are the same machine but not the same string"
    if same_path and host_a.lower() == host_b.lower() and ports[0] == ports[1] and a.scheme != b.scheme:
        return f"the scheme differs ({a.scheme} vs {b.scheme})"
    if same_path and host_a.lower() == host_b.lower() and a.scheme == b.scheme and ports[0] != ports[1]:
        return f"the port differs ({ports[0]} vs {ports[1]})"
    return None


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)
