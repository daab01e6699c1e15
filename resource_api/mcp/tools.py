"""The MCP server of the notes API: tools over the caller's notes.

The same notes, owner rule and validation as `GET /notes` and `POST /notes`: a tool
acts for the subject of the access token that carried the call, which the guard
(`resource_api.mcp.guard`) verified and put on the request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any

import msgspec
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from resource_api.notes.controller import owner_of
from resource_api.notes.models import Note
from resource_api.notes.schemas import NewNote
from resource_api.notes.service import NoteService
from shared import AccessTokenClaims, InsufficientScope

__all__ = ["TOOL_SCOPES", "NoteItem", "build_mcp_server", "caller_of"]

#: The scopes each tool needs: the same as the HTTP routes over the same notes. The guard
#: answers 403 insufficient_scope before a call reaches a tool without them (MCP
#: authorization, scope challenge handling).
TOOL_SCOPES: dict[str, tuple[str, ...]] = {"list_notes": ("notes:read",), "add_note": ("notes:write",)}


class NoteItem(BaseModel):
    """A note as the tools return it (the tools' output schema comes from this model)."""

    id: int
    text: str
    created_at: datetime


def _item(note: Note) -> NoteItem:
    # SQLite keeps no UTC offset; the value was written as UTC (see Note.created_at).
    created_at = note.created_at if note.created_at.tzinfo is not None else note.created_at.replace(tzinfo=UTC)
    return NoteItem(id=note.id, text=note.text, created_at=created_at)


def caller_of(ctx: Context[Any, Any], tool: str) -> AccessTokenClaims:
    """The verified claims of the token that carried this call, holding the tool's scopes.

    The guard already refused calls without them; this check keeps a tool safe should it
    ever be reached another way (a batch the guard did not read, a new transport).
    """
    request = ctx.request_context.request
    claims = getattr(request, "scope", {}).get("user")
    if not isinstance(claims, AccessTokenClaims):
        raise ToolError("this call carries no verified access token")
    needed = TOOL_SCOPES[tool]
    if not claims.has_scopes(*needed):
        raise ToolError(InsufficientScope(needed, granted_scopes=claims.scopes).reason)
    return claims


def build_mcp_server(sessions: Callable[[], AsyncSession]) -> MCPServer[Any]:
    """The MCP server; `sessions` opens a database session per tool call."""
    server: MCPServer[Any] = MCPServer(
        "notes",
        title="Notes API",
        instructions="Short notes that belong to the signed-in user: list them with list_notes, add one with add_note.",
    )

    # Hints for clients deciding what to confirm with the person: reading changes nothing,
    # adding never removes anything, and neither reaches beyond this API.
    @server.tool(title="List my notes", annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    async def list_notes(ctx: Context[Any, Any]) -> list[NoteItem]:
        """The signed-in user's notes, oldest first. Needs the notes:read scope."""
        owner = owner_of(caller_of(ctx, "list_notes"))
        async with sessions() as session:
            return [_item(note) for note in await NoteService(session).list_for(owner)]

    @server.tool(title="Add a note", annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False, open_world_hint=False))
    async def add_note(text: str, ctx: Context[Any, Any]) -> NoteItem:
        """Adds a note (1 to 2000 characters, not blank) for the signed-in user. Needs the notes:write scope."""
        owner = owner_of(caller_of(ctx, "add_note"))
        try:
            # The same rules as POST /notes: msgspec applies the length limits when it converts.
            note = msgspec.convert({"text": text}, NewNote)
        except msgspec.ValidationError as exc:
            raise ToolError(f"the note was not added: {exc}") from None
        async with sessions() as session:
            return _item(await NoteService(session).add(owner, note.text))

    return server
