"""A pending authorization request while the person signs in or consents.

Kept server-side under a random id and bound to the browser that started it by a
second cookie, so a login completed in another browser (login CSRF, RFC 9700 §4.7)
cannot finish this request. Forms carry the transaction's CSRF token.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from litestar import Response

from token_service.login.request_bounds import MAX_TRANSACTION_BYTES
from token_service.login.sessions import hash_id
from token_service.store import EphemeralStore

# Long enough to type a password or finish an upstream sign-in; every pending sign-in
# holds store memory (in-process or Redis) for this long unless completed.
TRANSACTION_TTL = 600


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str
    resource: str | None
    prompt: str | None
    max_age: int | None
    requested_at: int


@dataclass(frozen=True)
class LoginTransaction:
    id: str
    request: AuthorizationRequest
    binding_hash: str
    csrf: str
    error: str | None = field(default=None)


class LoginTransactions:
    def __init__(self, store: EphemeralStore, *, https: bool) -> None:
        self._store = store
        self._https = https
        self.cookie_name = "__Host-ts_login" if https else "ts_login"

    async def create(self, request: AuthorizationRequest, binding: str) -> LoginTransaction:
        tx = LoginTransaction(id=secrets.token_urlsafe(24), request=request, binding_hash=hash_id(binding), csrf=secrets.token_urlsafe(24))
        await self._save(tx)
        return tx

    async def _save(self, tx: LoginTransaction) -> None:
        body = {"request": asdict(tx.request), "binding_hash": tx.binding_hash, "csrf": tx.csrf, "error": tx.error}
        # UTF-8, not \u escapes: a non-ASCII state would otherwise cost up to 12 bytes a character.
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if len(raw) > MAX_TRANSACTION_BYTES:
            raise ValueError(f"a pending sign-in of {len(raw)} bytes exceeds {MAX_TRANSACTION_BYTES}; the request bounds should have refused it")
        await self._store.put(f"tx:{tx.id}", raw, TRANSACTION_TTL)

    async def with_error(self, tx: LoginTransaction, error: str | None) -> None:
        await self._save(LoginTransaction(tx.id, tx.request, tx.binding_hash, tx.csrf, error))

    async def load(self, tx_id: str | None, binding: str | None) -> LoginTransaction | None:
        """The transaction, only for the browser that started it."""
        if not tx_id or not binding or len(tx_id) > 100:
            return None
        raw = await self._store.get(f"tx:{tx_id}")
        if raw is None:
            return None
        data = json.loads(raw)
        if not hmac.compare_digest(data["binding_hash"], hash_id(binding)):
            return None
        return LoginTransaction(
            id=tx_id, request=AuthorizationRequest(**data["request"]), binding_hash=data["binding_hash"], csrf=data["csrf"], error=data["error"]
        )

    async def finish(self, tx_id: str) -> bool:
        return await self._store.consume(f"tx:{tx_id}") is not None

    def new_binding(self) -> str:
        return secrets.token_urlsafe(24)

    def set_binding_cookie(self, response: Response[Any], binding: str) -> None:
        response.set_cookie(self.cookie_name, binding, path="/", httponly=True, samesite="lax", secure=self._https, max_age=TRANSACTION_TTL)


def csrf_matches(tx: LoginTransaction, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(tx.csrf.encode(), presented.encode())
