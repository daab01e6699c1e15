"""Browser sessions: server-side records behind an opaque cookie.

The cookie holds a random id; the store keys the record by a hash of it, so a leaked
store dump does not yield usable cookies. Idle lifetime is the store TTL (renewed on
use); the absolute lifetime is checked against the creation time.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from litestar import Request, Response

from token_service.clock import Clock, epoch_seconds
from token_service.store import EphemeralStore


@dataclass(frozen=True)
class BrowserSession:
    user_id: str
    auth_time: int
    created_at: int
    upstream: str
    id_hash: str = ""


def hash_id(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class BrowserSessions:
    def __init__(self, store: EphemeralStore, *, https: bool, ttl: int, idle_ttl: int, clock: Clock) -> None:
        self._store = store
        self._https = https
        self._ttl = ttl
        self._idle_ttl = idle_ttl
        self._clock = clock
        # RFC 6265bis §4.1.3.2: `__Host-` pins the cookie to this origin, Secure and Path=/.
        self.cookie_name = "__Host-ts_session" if https else "ts_session"

    def _key(self, id_hash: str) -> str:
        return f"session:{id_hash}"

    async def create(self, user_id: str, upstream: str) -> str:
        """A new session id after every login (no session fixation); returns the cookie value."""
        session_id = secrets.token_urlsafe(32)
        now = epoch_seconds(self._clock)
        record = BrowserSession(user_id=user_id, auth_time=now, created_at=now, upstream=upstream)
        await self._store.put(self._key(hash_id(session_id)), json.dumps(asdict(record)).encode(), self._idle_ttl)
        return session_id

    async def load(self, session_id: str | None) -> BrowserSession | None:
        if not session_id or len(session_id) > 200:
            return None
        id_hash = hash_id(session_id)
        raw = await self._store.get(self._key(id_hash))
        if raw is None:
            return None
        data = json.loads(raw)
        if self._clock() - data["created_at"] > self._ttl:
            await self._store.delete(self._key(id_hash))
            return None
        await self._store.touch(self._key(id_hash), self._idle_ttl)
        return BrowserSession(**{**data, "id_hash": id_hash})

    def cookie_of(self, request: Request[Any, Any, Any]) -> str | None:
        return request.cookies.get(self.cookie_name)

    async def of_request(self, request: Request[Any, Any, Any]) -> BrowserSession | None:
        """The browser session the request's cookie names, if it is still valid."""
        return await self.load(self.cookie_of(request))

    async def end(self, session_id: str | None) -> BrowserSession | None:
        session = await self.load(session_id)
        if session is not None:
            await self._store.delete(self._key(session.id_hash))
        return session

    def set_cookie(self, response: Response[Any], session_id: str) -> None:
        response.set_cookie(self.cookie_name, session_id, path="/", httponly=True, samesite="lax", secure=self._https)

    def clear_cookie(self, response: Response[Any]) -> None:
        response.delete_cookie(self.cookie_name, path="/")
