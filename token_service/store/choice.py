"""Which ephemeral store a configuration runs on, opened and described the same way everywhere."""

from __future__ import annotations

from token_service.diagnostics.local_database import without_credentials
from token_service.settings import TokenServiceSettings
from token_service.store import EphemeralStore, open_store


def store_for(settings: TokenServiceSettings) -> EphemeralStore:
    file = settings.ephemeral_store_file if settings.ephemeral_store == "file" else None
    return open_store(settings.redis_url, settings.redis_prefix, memory_mb=settings.memory_store_mb, file=file)


def describe_store(settings: TokenServiceSettings) -> str:
    if settings.redis_url is not None:
        return f"Redis at {without_credentials(settings.redis_url)}"
    if settings.ephemeral_store == "file":
        return f"SQLite file store {settings.ephemeral_store_file}"
    return "in-process store (one worker)"
