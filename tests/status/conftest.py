"""A token service with the revocation suite's clients, plus helpers that read its status lists."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from shared.status_list import decode_lst, status_at
from tests.revocation.conftest import browser, deployment
from tests.support.token_service import decode_segment

__all__ = ["browser", "deployment", "status_of", "revoked_bits", "wait_for", "list_claims"]


def status_of(access_token: str) -> tuple[str, int]:
    """The (uri, idx) an access token points at."""
    reference = decode_segment(access_token, 1)["status"]["status_list"]
    return str(reference["uri"]), int(reference["idx"])


def list_claims(issuer: str, uri: str) -> dict[str, object]:
    response = httpx.get(uri)
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set(httpx.get(f"{issuer}/jwks.json").json())
    decoded = jwt.decode(response.text, keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "statuslist+jwt"
    return dict(decoded.claims)


def revoked_bits(issuer: str, uri: str) -> set[int]:
    """Every index whose bit is set in the list the issuer serves now."""
    status_list = list_claims(issuer, uri)["status_list"]
    assert isinstance(status_list, dict) and status_list["bits"] == 1
    return set_bits(decode_lst(status_list["lst"], max_bytes=1 << 24))


def set_bits(packed: bytes) -> set[int]:
    """Every index whose one-bit status is set in a decoded list."""
    return {i for i, byte in enumerate(packed) if byte for i in range(i * 8, i * 8 + 8) if status_at(packed, i, 1)}


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
