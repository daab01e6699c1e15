"""Durable state: SQLAlchemy models, the engine and Alembic migrations."""
