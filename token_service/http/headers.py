"""Security headers on every response (RFC 9700 §4.11, OWASP secure headers), and request headers read off the scope."""

from __future__ import annotations

from collections.abc import Iterable

from litestar.types import Scope

Header = tuple[bytes, bytes]


def request_header(scope: Scope, name: bytes) -> list[str]:
    """Every value the request sent for header `name` (lower-case), in order.

    Read straight off the ASGI scope, where servers give names in lower case: Litestar's
    `request.headers` builds a case-insensitive multidict of every header on first use,
    a cost the form endpoints paid for two or four lookups.
    """
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


def security_headers(*, https: bool) -> list[Header]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def with_defaults(headers: Iterable[Header], added: list[Header], defaults: list[Header], *, replaced: bytes) -> list[Header]:
    """An endpoint's `headers` except one named `replaced`, then `added`, then each default
    that neither set (an endpoint's own value wins over a default)."""
    merged: list[Header] = []
    present = {name for name, _ in added}
    for name, value in headers:  # one pass: this runs for every response
        lowered = name.lower()
        if lowered != replaced:
            merged.append((name, value))
            present.add(lowered)
    merged += added
    merged += [header for header in defaults if header[0] not in present]
    return merged
