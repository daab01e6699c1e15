"""client origin, registration access token, last use (RFC 7591 / RFC 7592)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:00:00

Existing rows were all added by an operator (`clients add`): their origin defaults to
"operator". Dynamically registered clients hold the SHA-256 hash of their RFC 7592
registration access token (never the token); `last_used_at` is the first time such a
client obtained a token, so unused open registrations can expire.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=20), nullable=False, server_default="operator"))
        batch_op.add_column(sa.Column("registration_token_hash", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("registered_openly", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("last_used_at", sa.BigInteger(), nullable=True))
        # RFC 7592 requests find their client by the token's hash.
        batch_op.create_index("ix_clients_registration_token_hash", ["registration_token_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_registration_token_hash")
        for column in ("last_used_at", "registered_openly", "registration_token_hash", "origin"):
            batch_op.drop_column(column)
