"""Security headers on every response (RFC 9700 §4.11, OWASP secure headers)."""

from __future__ import annotations

from collections.abc import Iterable

Header = tuple[bytes, bytes]


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
