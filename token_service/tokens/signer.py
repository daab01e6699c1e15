"""Signs JWTs with the active key of the current key snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from joserfc import jwt

from token_service.errors import TemporarilyUnavailable
from token_service.keys.generation import SIGNING_ALG
from token_service.keys.keyring import KeySnapshot


class TokenSigner:
    def __init__(self, snapshot: Callable[[], KeySnapshot]) -> None:
        self._snapshot = snapshot

    def sign(self, claims: dict[str, Any], typ: str) -> tuple[str, str]:
        """Returns the compact JWS and the kid that signed it."""
        snapshot = self._snapshot()
        if snapshot.signer is None or snapshot.signer_kid is None:
            raise TemporarilyUnavailable("no active signing key is loaded yet; retry shortly")
        header = {"alg": SIGNING_ALG, "typ": typ, "kid": snapshot.signer_kid}
        return jwt.encode(header, claims, snapshot.signer, algorithms=[SIGNING_ALG]), snapshot.signer_kid
