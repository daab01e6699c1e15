"""consent audiences (RFC 8707 resources a user approved)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:20:00

Existing rows keep NULL, read as "the client's default audience": the audience those
consents were shown for when no `resource` was sent. A consent for another resource is
asked again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audiences", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("audiences")
