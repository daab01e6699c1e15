"""Real PostgreSQL and Redis for tests: a database and key prefix per run, cleaned up afterwards.

When a service is absent the tests that need it skip with a clear message, except under
CI=true, where they are mandatory and fail instead.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import time

import pytest

PG_HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_POSTGRES_PORT", "5432"))
PG_USER = os.environ.get("TEST_POSTGRES_USER", "postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = secrets.token_hex(4)
# Databases are named ts_test_<unix start time>_<run id>_<n>: a run that was killed before its
# teardown leaves them behind, and thousands of them slow every later DROP DATABASE, so the
# next run drops those old enough that no live run can still own them.
RUN_STARTED = int(time.time())
STALE_AFTER_SECONDS = 6 * 3600
_DATED_NAME = re.compile(r"^ts_test_(\d{10})_[0-9a-f]+_\d+$")


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
        self._swept = False

    def create(self) -> str:
        if not self._swept:
            self._swept = True
            asyncio.run(_drop_stale_databases())
        name = f"ts_test_{RUN_STARTED}_{RUN_ID}_{len(self.created)}"
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()


async def _drop_stale_databases() -> None:
    import asyncpg

    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        names = [row[0] for row in await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'ts_test_%'")]
        for name in stale_database_names(names, now=time.time()):
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def stale_database_names(names: list[str], *, now: float) -> list[str]:
    """Test databases from runs that started more than STALE_AFTER_SECONDS ago."""
    stale = []
    for name in names:
        match = _DATED_NAME.match(name)
        if match and now - int(match.group(1)) > STALE_AFTER_SECONDS:
            stale.append(name)
    return stale


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
