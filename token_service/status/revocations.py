"""What flips a token's status bit: revocation by token, refresh family, user or client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement

from token_service.clock import Clock, epoch_seconds
from token_service.db.models import StatusEntryRow
from token_service.status.indices import FLUSH_SECONDS, StatusIndices
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
    def __init__(
        self,
        store: StatusListStore,
        *,
        ttl: int,
        clock: Clock,
        changed: Callable[[], Awaitable[None]] | None = None,
        pending: StatusIndices | None = None,
    ) -> None:
        self._store = store
        # This instance's entries not written yet: written before a revocation looks for entries.
        self._pending = pending
        # Awaited after a revocation that flipped a bit, before it is answered: the local
        # publisher rebuilds the lists it serves.
        self._ttl = ttl
        self._clock = clock
        self._changed = changed

    async def _revoke(self, condition: ColumnElement[bool], fences: list[tuple[str, str]]) -> Revoked:
        if self._pending is not None:
            await self._pending.flush()
        now = epoch_seconds(self._clock)
        count = await self._store.revoke(condition, fences, now)
        if count and self._changed is not None:
            await self._changed()
        # Other instances write their queued entries (checked against the fences) within a
        # flush, every instance notices a changed list within a poll and rebuilds it, and
        # verifiers refetch within the ttl.
        return Revoked(count, now + self._ttl + int(POLL_SECONDS + FLUSH_SECONDS + 0.999))

    async def revoke_token(self, jti: str) -> Revoked:
        return await self._revoke(StatusEntryRow.jti == jti, [("jti", jti)])

    async def revoke_families(self, family_ids: Iterable[str]) -> Revoked:
        ids = list(family_ids)
        if not ids:
            return Revoked(0, epoch_seconds(self._clock))
        return await self._revoke(StatusEntryRow.family_id.in_(ids), [("family", family_id) for family_id in ids])

    async def revoke_user(self, user_id: str) -> Revoked:
        return await self._revoke(StatusEntryRow.user_id == user_id, [("user", user_id)])

    async def revoke_client(self, client_id: str) -> Revoked:
        return await self._revoke(StatusEntryRow.client_id == client_id, [("client", client_id)])
