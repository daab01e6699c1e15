"""Which scopes a user has approved for a client, remembered across sign-ins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clients.models import Client
from token_service.clock import Clock, epoch_seconds
from token_service.db.models import ConsentRow


class ConsentRecords:
    def __init__(self, db_sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db_sessions = db_sessions
        self._clock = clock

    async def covers(self, user_id: str, client: Client, scopes: frozenset[str]) -> bool:
        if client.first_party:
            return True
        async with self._db_sessions() as db:
            row = await db.get(ConsentRow, (user_id, client.client_id))
        return row is not None and scopes <= set(row.scope.split())

    async def remember(self, user_id: str, client_id: str, scopes: frozenset[str]) -> None:
        now = epoch_seconds(self._clock)
        async with self._db_sessions() as db, db.begin():
            row = await db.get(ConsentRow, (user_id, client_id), with_for_update=True)
            if row is None:
                db.add(ConsentRow(user_id=user_id, client_id=client_id, scope=" ".join(sorted(scopes)), granted_at=now))
            else:
                row.scope = " ".join(sorted(scopes | set(row.scope.split())))
                row.granted_at = now
