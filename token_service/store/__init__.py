"""Ephemeral state (login state, codes, sessions, rate limits) behind one interface."""

from token_service.store.base import EphemeralStore, StoreUnavailable

__all__ = ["EphemeralStore", "StoreUnavailable", "open_store"]


def open_store(redis_url: str | None, prefix: str) -> EphemeralStore:
    if redis_url is None:
        from token_service.store.memory import MemoryStore

        return MemoryStore()
    from token_service.store.redis import RedisStore

    return RedisStore(redis_url, prefix)
