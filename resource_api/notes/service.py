"""Rules for notes: each subject sees and adds only their own."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from resource_api.notes.models import Note

__all__ = ["NoteService"]


class NoteService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list_for(self, owner_sub: str) -> list[Note]:
        rows = await self._session.scalars(select(Note).where(Note.owner_sub == owner_sub).order_by(Note.id))
        return list(rows)

    async def add(self, owner_sub: str, text: str) -> Note:
        note = Note(owner_sub=owner_sub, text=text)
        self._session.add(note)
        await self._session.commit()
        return note
