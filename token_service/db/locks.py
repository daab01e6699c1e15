"""Cross-instance mutual exclusion for rare transitions (first key, rotations)."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from token_service.db.models import TransitionLockRow


async def lock_transitions(session: AsyncSession, name: str, *, now: int) -> None:
    """Serialize writers of `name` until the session's transaction ends.

    An upsert always writes its row: PostgreSQL holds that row lock until commit, and
    SQLite holds its single writer lock, so instances behind a load balancer perform
    each transition exactly once and the loser sees the winner's result.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(TransitionLockRow).values(name=name, touched_at=now)
    await session.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"touched_at": now}))
