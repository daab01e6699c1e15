"""The successor pair kept for a rotated refresh token's grace window, sealed under that token.

The pair is encrypted (AES-GCM) under a key derived (HKDF) from the predecessor token
itself, which is stored only hashed: the database alone cannot read a live refresh token
back out of it, and only the predecessor's holder can.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _grace_key(token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"token-service refresh grace").derive(token.encode())


def seal_successor(old_token: str, response: dict[str, Any]) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_grace_key(old_token)).encrypt(nonce, json.dumps(response).encode(), None)


def open_successor(old_token: str, sealed: bytes) -> dict[str, Any] | None:
    """The sealed response, or None if `sealed` was not sealed under `old_token`."""
    try:
        return dict(json.loads(AESGCM(_grace_key(old_token)).decrypt(sealed[:12], sealed[12:], None)))
    except (InvalidTag, ValueError):
        return None
