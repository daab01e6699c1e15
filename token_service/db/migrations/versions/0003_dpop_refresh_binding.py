"""DPoP: refresh token families of public clients bound to a key (RFC 9449 §5)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:00:00

Existing families get NULL: they were issued as bearer tokens and stay usable as such.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_families", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_families", schema=None) as batch_op:
        batch_op.drop_column("dpop_jkt")
