"""`GET /notes` and `POST /notes`, for the subject of the bearer token."""

from __future__ import annotations

from datetime import UTC

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from resource_api.notes.models import Note
from resource_api.notes.schemas import NewNote, NoteOut
from resource_api.notes.service import NoteService
from shared import AccessTokenClaims
from shared.litestar import requires_scope

__all__ = ["NotesController"]


def provide_note_service(db_session: NamedDependency[AsyncSession]) -> NoteService:
    return NoteService(db_session)


def _out(note: Note) -> NoteOut:
    created_at = note.created_at
    if created_at.tzinfo is None:
        # SQLite keeps no UTC offset; the value was written as UTC (see Note.created_at).
        created_at = created_at.replace(tzinfo=UTC)
    return NoteOut(id=note.id, text=note.text, created_at=created_at)


class NotesController(Controller):
    path = "/notes"
    tags = ["notes"]
    dependencies = {"notes": Provide(provide_note_service, sync_to_thread=False)}

    @get(guards=[requires_scope("notes:read")])
    async def list_notes(
        self, claims: NamedDependency[AccessTokenClaims], notes: NamedDependency[NoteService]
    ) -> list[NoteOut]:
        return [_out(note) for note in await notes.list_for(claims.sub)]

    @post(guards=[requires_scope("notes:write")], status_code=201)
    async def add_note(
        self,
        claims: NamedDependency[AccessTokenClaims],
        data: JSONBody[NewNote],
        notes: NamedDependency[NoteService],
    ) -> NoteOut:
        return _out(await notes.add(claims.sub, data.text))
