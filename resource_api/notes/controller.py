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


def owner_of(claims: AccessTokenClaims) -> str:
    """Whose notes a token reaches: a user's by `sub`, a client's own token (client_credentials,
    RFC 9068 §5: `sub` = `client_id`) a separate `client:` space. User subs never contain
    a colon, so a client can never reach a user's notes, whatever its client_id (RFC 9700 §4.15)."""
    return claims.sub if claims.names_a_user else f"client:{claims.client_id}"


class NotesController(Controller):
    path = "/notes"
    tags = ["notes"]
    dependencies = {"notes": Provide(provide_note_service, sync_to_thread=False)}

    @get(guards=[requires_scope("notes:read")])
    async def list_notes(
        self, claims: NamedDependency[AccessTokenClaims], notes: NamedDependency[NoteService]
    ) -> list[NoteOut]:
        return [_out(note) for note in await notes.list_for(owner_of(claims))]

    @post(guards=[requires_scope("notes:write")], status_code=201)
    async def add_note(
        self,
        claims: NamedDependency[AccessTokenClaims],
        data: JSONBody[NewNote],
        notes: NamedDependency[NoteService],
    ) -> NoteOut:
        return _out(await notes.add(owner_of(claims), data.text))
