"""client metadata (RFC 7591 fields, private_key_jwt keys)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:00:00

Existing rows keep working: the new columns are nullable or defaulted, and a NULL
token_endpoint_auth_method is derived when the row is read (public -> none, else
client_secret_basic), exactly what those clients did before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_endpoint_auth_method", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("response_types", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("jwks_uri", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("client_name", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("dpop_bound_access_tokens", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        for column in ("dpop_bound_access_tokens", "client_name", "jwks_uri", "jwks", "response_types", "token_endpoint_auth_method"):
            batch_op.drop_column(column)
