"""Checks of single setting values, shared by the settings class and the TOML tables."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from token_service.outbound.addresses import is_loopback_host

__all__ = ["decode_kek", "is_loopback_host", "validate_issuer_url"]


def validate_issuer_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{value!r} is not an absolute http(s) URL; set it to the base URL clients use, e.g. https://auth.example.com"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} has a query or fragment, which an issuer must not have (OpenID Connect Discovery §3)")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{value!r} uses http on a non-loopback host; tokens and codes would cross the network in clear text. "
            "Use https (behind your TLS proxy), or http://127.0.0.1:PORT for local development"
        )
    return value


def decode_kek(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("key_encryption_key is not valid base64url; create one with `token-service keys new-kek`") from None
    if len(raw) != 32:
        raise ValueError(f"key_encryption_key decodes to {len(raw)} bytes, expected 32; create one with `token-service keys new-kek`")
    return raw
