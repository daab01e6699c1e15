"""Security headers on every response (RFC 9700 §4.11, OWASP secure headers)."""

from __future__ import annotations

from collections.abc import Iterable

Header = tuple[bytes, bytes]


def security_headers(*, https: bool) -> list[Header]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def with_defaults(headers: Iterable[Header], defaults: list[Header]) -> list[Header]:
    """`headers` plus each default the endpoint did not set itself (an endpoint's own value wins)."""
    merged = list(headers)
    present = {name.lower() for name, _ in merged}
    merged.extend(header for header in defaults if header[0] not in present)
    return merged
