"""Ephemeral state (login state, codes, sessions, rate limits) behind one interface."""

from token_service.store.base import EphemeralStore, StoreUnavailable

__all__ = ["EphemeralStore", "StoreUnavailable", "open_store"]


def open_store(redis_url: str | None, prefix: str, *, memory_mb: int = 256) -> EphemeralStore:
    if redis_url is None:
        from token_service.store.memory import MIB, MemoryStore

        return MemoryStore(memory_mb * MIB)
    from token_service.store.redis import RedisStore

    return RedisStore(redis_url, prefix)
