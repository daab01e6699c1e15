"""Clients stored before the metadata columns existed keep authenticating as they did."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from token_service.clients.registry import ClientRegistry
from token_service.db import migrate
from token_service.db.engine import session_factory


def test_rows_from_the_first_schema_keep_their_authentication_method(tmp_path: Path) -> None:
    async def run() -> tuple[str, str, bool, str]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(lambda sync: command.upgrade(migrate.alembic_config(sync), "0001"))
                for client_id, public in (("old-worker", False), ("old-spa", True)):
                    await connection.execute(
                        text(
                            "INSERT INTO clients (client_id, secret_hash, grant_types, redirect_uris, post_logout_redirect_uris, "
                            "scope, audience, resources, public, first_party, created_at) "
                            "VALUES (:id, :hash, '[\"client_credentials\"]', '[]', '[]', 'notes:read', NULL, '[]', :public, 0, 0)"
                        ),
                        {"id": client_id, "hash": None if public else "sha256$" + "0" * 64, "public": public},
                    )
            await migrate.upgrade(engine)
            registry = ClientRegistry(session_factory(engine), {})
            worker, spa = await registry.get("old-worker"), await registry.get("old-spa")
            assert worker is not None and spa is not None
            return worker.auth_method, spa.auth_method, worker.dpop_bound_access_tokens, worker.source
        finally:
            await engine.dispose()

    # Migration 0007: every older row was added by an operator.
    assert asyncio.run(run()) == ("client_secret_basic", "none", False, "operator")
