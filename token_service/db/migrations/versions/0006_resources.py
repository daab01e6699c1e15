"""resources: the APIs tokens are issued for (RFC 8707 resource indicators)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 17:00:00

Resources registered with `token-service resources add`; those of the TOML file's
`[[resources]]` table are not stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("identifier", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("identifier"),
    )


def downgrade() -> None:
    op.drop_table("resources")
