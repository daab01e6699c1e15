"""Authorization codes (RFC 6749 §4.1.2): high entropy, single use, short-lived, bound to everything.

Only a hash of the code keys the store. Redemption is an atomic consume, so of two
parallel redemptions exactly one succeeds. A redeemed code leaves a marker naming what
it produces, written in the same atomic step, so a replay can revoke those tokens
(RFC 6749 §4.1.2, RFC 9700 §4.5), even one that arrives while they are being issued.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from token_service.store import EphemeralStore

REPLAY_MEMORY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class CodeGrant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    user_id: str
    scope: str
    resource: str | None
    auth_time: int
    session_id_hash: str | None
    dpop_jkt: str | None = None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class AuthorizationCodes:
    def __init__(self, store: EphemeralStore, ttl: int) -> None:
        self._store = store
        self._ttl = ttl

    async def issue(self, grant: CodeGrant) -> str:
        code = secrets.token_urlsafe(32)
        await self._store.put(f"code:{_hash(code)}", json.dumps(asdict(grant)).encode(), self._ttl)
        return code

    async def redeem(self, code: str, produces: dict[str, Any]) -> CodeGrant | None:
        """The code's grant, once; `produces` (the ids of the tokens this redemption will issue)
        is what a later replay of the code finds and revokes."""
        if len(code) > 200:
            return None
        hashed = _hash(code)
        raw = await self._store.consume_leaving(f"code:{hashed}", f"code-used:{hashed}", json.dumps(produces).encode(), REPLAY_MEMORY_SECONDS)
        return None if raw is None else CodeGrant(**json.loads(raw))

    async def replay_of(self, code: str) -> dict[str, Any] | None:
        """What a code produced when it was first redeemed, if it was."""
        if len(code) > 200:
            return None
        raw = await self._store.get(f"code-used:{_hash(code)}")
        return None if raw is None else dict(json.loads(raw))
