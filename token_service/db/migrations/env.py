"""Alembic environment: always driven by `token_service.db.migrate` with a live connection."""

from __future__ import annotations

from alembic import context

from token_service.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `token-service db upgrade`, which provides the connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
