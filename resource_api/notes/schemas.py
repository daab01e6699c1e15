"""What the notes endpoints accept and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

__all__ = ["MAX_NOTE_LENGTH", "NewNote", "NoteOut"]

MAX_NOTE_LENGTH = 2000


class NewNote(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTE_LENGTH)]

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("text must not be blank")


class NoteOut(msgspec.Struct):
    id: int
    text: str
    created_at: datetime
