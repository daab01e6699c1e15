"""status entries written after the response: their issue time, and revocation fences

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 22:30:00

Status entries are now written in the background a moment after their tokens leave, so a
revocation also records a fence (`status_fences`): an instance that writes entries later
revokes those issued before a matching fence. `status_entries.issued_at` says when.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_at", sa.BigInteger(), nullable=True))
    op.create_table(
        "status_fences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_status_fences_revoked_at", "status_fences", ["revoked_at"])
    op.create_index("ix_status_fences_expires_at", "status_fences", ["expires_at"])


def downgrade() -> None:
    op.drop_table("status_fences")
    with op.batch_alter_table("status_entries", schema=None) as batch_op:
        batch_op.drop_column("issued_at")
