from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest

from token_service.keys.sealing import new_kek_text
from token_service.keys.service import KeyService
from token_service.runtime import Runtime, open_runtime
from token_service.settings import TokenServiceSettings


@asynccontextmanager
async def opened(settings: TokenServiceSettings) -> AsyncIterator[Runtime]:
    """A runtime as `serve` opens it (schema migrated, first key ensured), without the polling loop."""
    runtime = await open_runtime(settings, migrate_now=True)
    try:
        yield runtime
    finally:
        await runtime.close()


T = TypeVar("T")


def with_keys(settings: TokenServiceSettings, action: Callable[[KeyService], Awaitable[T]]) -> T:
    """Runs `action` on the KeyService of a freshly opened instance, as `token-service keys ...` does."""

    async def run() -> T:
        async with opened(settings) as runtime:
            return await action(runtime.keys)

    return asyncio.run(run())


@pytest.fixture
def two_instances(make_settings: Any) -> tuple[TokenServiceSettings, TokenServiceSettings]:
    """Settings of two instances sharing one database and key-encryption key, each with its own data dir."""
    first = make_settings(key_encryption_key=new_kek_text())
    assert first.key_encryption_key is not None
    second = make_settings(database_url=first.effective_database_url, key_encryption_key=first.key_encryption_key.get_secret_value())
    return first, second
