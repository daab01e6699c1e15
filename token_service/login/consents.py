"""Which scopes a user has approved for a client, and for which audiences, remembered across sign-ins.

The audience (the `resource` of RFC 8707) is part of what the user approved: a consent for
the notes API is not a consent for the payments API (RFC 9700 §2.3). Rows written before
audiences were recorded hold NULL and cover only the client's default audience, the one
those consents were shown for when no `resource` was sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clients.models import Client
from token_service.clock import Clock, epoch_seconds
from token_service.db.models import ConsentRow


def recorded_audiences(row: ConsentRow, client: Client) -> set[str]:
    if row.audiences is None:
        return {client.audience} if client.audience else set()
    return set(row.audiences.split())


class ConsentRecords:
    def __init__(self, db_sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db_sessions = db_sessions
        self._clock = clock

    async def covers(self, user_id: str, client: Client, scopes: frozenset[str], audiences: Sequence[str]) -> bool:
        if client.first_party:
            return True
        if client.registered_by_others:
            # Nobody on our side vouches for a self-registered client: the user sees every request.
            return False
        async with self._db_sessions() as db:
            row = await db.get(ConsentRow, (user_id, client.client_id))
        return row is not None and scopes <= set(row.scope.split()) and set(audiences) <= recorded_audiences(row, client)

    async def remember(self, user_id: str, client: Client, scopes: frozenset[str], audiences: Sequence[str]) -> None:
        now = epoch_seconds(self._clock)
        async with self._db_sessions() as db, db.begin():
            row = await db.get(ConsentRow, (user_id, client.client_id), with_for_update=True)
            if row is None:
                db.add(ConsentRow(user_id=user_id, client_id=client.client_id, scope=" ".join(sorted(scopes)), audiences=" ".join(sorted(set(audiences))), granted_at=now))
            else:
                row.scope = " ".join(sorted(scopes | set(row.scope.split())))
                row.audiences = " ".join(sorted(recorded_audiences(row, client) | set(audiences)))
                row.granted_at = now
