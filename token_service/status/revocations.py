"""What flips a token's status bit: revocation by token, refresh family, user or client."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement

from token_service.clock import Clock, epoch_seconds
from token_service.db.models import StatusEntryRow
from token_service.status.store import StatusListStore

# Every instance looks for changed lists this often (seconds), see published.py.
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Revoked:
    """How many access tokens were revoked, and the time by which every API refuses them."""

    count: int
    refused_by: int

    def sentence(self) -> str:
        when = datetime.fromtimestamp(self.refused_by, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        noun = "access token" if self.count == 1 else "access tokens"
        return f"revoked {self.count} {noun}; every API checking token status refuses them by {when}"


class StatusRevocations:
    def __init__(self, store: StatusListStore, *, ttl: int, clock: Clock, changed: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._changed = changed

    def on_change(self, changed: Callable[[], None]) -> None:
        """Called after each revocation that flipped a bit (the local publisher rebuilds at once)."""
        self._changed = changed

    async def _revoke(self, condition: ColumnElement[bool]) -> Revoked:
        now = epoch_seconds(self._clock)
        count = await self._store.revoke(condition, now)
        if count:
            self._changed()
        # Instances notice within a poll, rebuild, and verifiers refetch within the ttl.
        return Revoked(count, now + self._ttl + int(POLL_SECONDS + 0.999))

    async def revoke_token(self, jti: str) -> Revoked:
        return await self._revoke(StatusEntryRow.jti == jti)

    async def revoke_families(self, family_ids: Iterable[str]) -> Revoked:
        ids = list(family_ids)
        if not ids:
            return Revoked(0, epoch_seconds(self._clock))
        return await self._revoke(StatusEntryRow.family_id.in_(ids))

    async def revoke_user(self, user_id: str) -> Revoked:
        return await self._revoke(StatusEntryRow.user_id == user_id)

    async def revoke_client(self, client_id: str) -> Revoked:
        return await self._revoke(StatusEntryRow.client_id == client_id)
