"""The `htu` of a request: the URI a proof names, compared as RFC 9449 §4.3 says.

Query and fragment are ignored; scheme and host compare case-insensitively and a
default port equals no port (RFC 3986 §6.2.2-6.2.3). A resource server takes its
own URI from configuration (its external base URL), never from the Host header a
client controls, so a proof made for one host cannot pass at another.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["normalize_htu", "request_htu"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_htu(uri: str) -> str | None:
    """The comparable form of an http(s) URI without query or fragment; None if it is not one."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def request_htu(public_url: str, path: str) -> str:
    """The external URI of a request to `path`, for an app served at `public_url`.

    `public_url` may carry a path prefix (an app behind a proxy that strips it):
    the prefix comes first, then the path the app saw.
    """
    return public_url.rstrip("/") + (path if path.startswith("/") else "/" + path)
