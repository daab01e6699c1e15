"""Our own published keys as a key source for the shared verifier (used by userinfo and introspection)."""

from __future__ import annotations

from collections.abc import Callable

from joserfc.jwk import RSAKey

from shared.errors import InvalidToken
from token_service.keys.keyring import KeySnapshot


class SnapshotKeyResolver:
    def __init__(self, issuer: str, snapshot: Callable[[], KeySnapshot]) -> None:
        self.issuer = issuer
        self._snapshot = snapshot
        self._imported: dict[str, RSAKey] = {}

    async def get_key(self, kid: str | None) -> RSAKey:
        snapshot = self._snapshot()
        published = {k.kid: k for k in snapshot.published()}
        if not isinstance(kid, str) or kid not in published:
            raise InvalidToken(f"kid {str(kid)[:80]!r} is not a published key of {self.issuer}", rule="kid")
        key = self._imported.get(kid)
        if key is None:
            key = RSAKey.import_key(published[kid].public_jwk)
            self._imported[kid] = key
        return key
