"""Ephemeral state (login state, codes, sessions, rate limits) behind one interface."""

from __future__ import annotations

from pathlib import Path

from token_service.store.base import EphemeralStore, StoreUnavailable

__all__ = ["EphemeralStore", "StoreUnavailable", "open_store"]


def open_store(redis_url: str | None, prefix: str, *, memory_mb: int = 256, file: Path | None = None) -> EphemeralStore:
    """Redis when configured; else the SQLite file every worker of this host shares; else one process's memory."""
    if redis_url is not None:
        from token_service.store.redis import RedisStore

        return RedisStore(redis_url, prefix)
    from token_service.store.memory import MIB, MemoryStore

    if file is not None:
        from token_service.store.sqlite import SqliteStore

        return SqliteStore(file, memory_mb * MIB)
    return MemoryStore(memory_mb * MIB)
