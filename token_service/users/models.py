"""A user and an upstream's account of a person, as the rest of the service sees them."""

from __future__ import annotations

from dataclasses import dataclass

from token_service.db.models import Columns, UserRow


@dataclass(frozen=True)
class User:
    id: str  # opaque and stable: the `sub` of every token issued for this person
    username: str | None  # set for local password users only
    name: str | None
    email: str | None
    email_verified: bool
    disabled: bool = False  # `token-service users disable`: no new tokens

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(
            id=row.id, username=row.username, name=row.name, email=row.email, email_verified=bool(row.email_verified), disabled=row.disabled_at is not None
        )

    @classmethod
    def from_columns(cls, columns: Columns) -> User:
        """From a Core row of the `users` table (its columns by name)."""
        return cls(
            id=columns["id"],
            username=columns["username"],
            name=columns["name"],
            email=columns["email"],
            email_verified=bool(columns["email_verified"]),
            disabled=columns["disabled_at"] is not None,
        )


@dataclass(frozen=True)
class UpstreamProfile:
    """What an upstream login said about the person; `subject` is stable at that upstream."""

    upstream: str
    subject: str
    name: str | None
    email: str | None
    email_verified: bool
    preferred_username: str | None
