"""token status lists (draft-ietf-oauth-status-list) and disabled users

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00

`status_lists` hands out index blocks and says when a list may be dropped; `status_entries`
records which access token holds which index (purged once the token has expired).
`users.disabled_at` stops new tokens for a user.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_lists",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("next_index", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_status_lists_expires_at", "status_lists", ["expires_at"])
    op.create_table(
        "status_entries",
        sa.Column("list_id", sa.String(32), primary_key=True),
        sa.Column("idx", sa.BigInteger(), primary_key=True),
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("family_id", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
    )
    for column in ("jti", "client_id", "user_id", "family_id", "expires_at"):
        op.create_index(f"ix_status_entries_{column}", "status_entries", [column])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
    op.drop_table("status_entries")
    op.drop_table("status_lists")
