"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 07:21:53.082705
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transition_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("touched_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table('clients',
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=200), nullable=True),
    sa.Column('grant_types', sa.JSON(), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('post_logout_redirect_uris', sa.JSON(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('audience', sa.Text(), nullable=True),
    sa.Column('resources', sa.JSON(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('first_party', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('refresh_families',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('session_id_hash', sa.String(length=64), nullable=True),
    sa.Column('auth_time', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('refresh_families', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_families_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_families_session_id_hash'), ['session_id_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_families_user_id'), ['user_id'], unique=False)

    op.create_table('revoked_access_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('revoked_access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_access_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('private_key_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('activates_at', sa.BigInteger(), nullable=True),
    sa.Column('activated_at', sa.BigInteger(), nullable=True),
    sa.Column('retired_at', sa.BigInteger(), nullable=True),
    sa.Column('removes_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('kid')
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_state'), ['state'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=False)

    op.create_table('consents',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('granted_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'client_id')
    )
    op.create_table('identities',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('upstream', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('last_login_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('upstream', 'subject', name='uq_identities_upstream_subject')
    )
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identities_user_id'), ['user_id'], unique=False)

    op.create_table('refresh_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('family_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('resource', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('rotated_at', sa.BigInteger(), nullable=True),
    sa.Column('successor_ciphertext', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['family_id'], ['refresh_families.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_family_id'), ['family_id'], unique=False)



def downgrade() -> None:
    op.drop_table("transition_locks")
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_family_id'))

    op.drop_table('refresh_tokens')
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identities_user_id'))

    op.drop_table('identities')
    op.drop_table('consents')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_email'))

    op.drop_table('users')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_state'))

    op.drop_table('signing_keys')
    with op.batch_alter_table('revoked_access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_access_tokens_expires_at'))

    op.drop_table('revoked_access_tokens')
    with op.batch_alter_table('refresh_families', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_families_user_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_families_session_id_hash'))
        batch_op.drop_index(batch_op.f('ix_refresh_families_client_id'))

    op.drop_table('refresh_families')
    op.drop_table('clients')
