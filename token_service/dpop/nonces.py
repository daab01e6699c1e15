"""Server-issued DPoP nonces (RFC 9449 §8), off unless TOKEN_SERVICE_DPOP_NONCE is set.

Each instance hands out its current nonce and records it in the shared store, so a
nonce issued by any instance is accepted by every instance while it lives. A nonce
is renewed after half its lifetime: a client holding the previous one still has the
other half to use it.
"""

from __future__ import annotations

import secrets

from token_service.clock import Clock
from token_service.store import EphemeralStore

_MAX_NONCE = 64


class DPoPNonces:
    def __init__(self, store: EphemeralStore, lifetime: float, *, clock: Clock) -> None:
        self._store = store
        self._lifetime = lifetime
        self._clock = clock
        self._current: str | None = None
        self._issued_at = float("-inf")

    async def current(self) -> str:
        if self._current is None or self._clock() - self._issued_at > self._lifetime / 2:
            nonce = secrets.token_urlsafe(16)
            await self._store.put(f"dpop-nonce:{nonce}", b"1", self._lifetime)
            self._current, self._issued_at = nonce, self._clock()
        return self._current

    async def valid(self, nonce: str) -> bool:
        if not nonce or len(nonce) > _MAX_NONCE:
            return False
        return await self._store.get(f"dpop-nonce:{nonce}") is not None
