"""Real PostgreSQL and Redis for tests: a database and key prefix per run, cleaned up afterwards.

When a service is absent the tests that need it skip with a clear message, except under
CI=true, where they are mandatory and fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket

import pytest

PG_HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_POSTGRES_PORT", "5432"))
PG_USER = os.environ.get("TEST_POSTGRES_USER", "postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = secrets.token_hex(4)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if in_ci():
        pytest.fail(f"{message}; under CI=true the {name} tests are mandatory (.ci/run starts it)")
    pytest.skip(f"{message}; start it to run these tests (they are mandatory under CI=true)")


async def _pg_execute(statement: str, database: str = "postgres") -> None:
    import asyncpg

    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=database)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class PostgresDatabases:
    """Creates throw-away databases named after this run and drops them all at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self) -> str:
        name = f"ts_test_{RUN_ID}_{len(self.created)}"
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()


def redis_prefix() -> str:
    return f"ts-test-{RUN_ID}-{secrets.token_hex(3)}:"


def delete_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
