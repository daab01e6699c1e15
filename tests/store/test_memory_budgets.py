"""The in-process store under a flood: bounded by bytes, sessions kept apart, O(1) per write."""

from __future__ import annotations

import secrets

from token_service.store.memory import ENTRY_OVERHEAD, EXPIRY_CHECKS_PER_WRITE, MIB, MemoryStore


def session_record() -> bytes:
    return b'{"user_id":"u1","auth_time":1,"created_at":1,"upstream":"local"}'


async def test_a_flood_of_sign_ins_never_evicts_a_session() -> None:
    store = MemoryStore(1 * MIB)
    await store.put("session:alice", session_record(), 3600)
    logins = store.budgets["logins"]
    for _ in range(2000):
        await store.put(f"tx:{secrets.token_urlsafe(24)}", b"x" * 1500, 600)
    assert await store.get("session:alice") == session_record()
    assert logins.used <= logins.max_bytes
    assert logins.stats.evictions > 1000
    assert store.budgets["sessions"].stats.evictions == 0


async def test_each_write_does_constant_work_however_full_the_store_is() -> None:
    store = MemoryStore(1 * MIB)
    logins = store.budgets["logins"]
    for _ in range(5000):
        await store.put(f"tx:{secrets.token_urlsafe(24)}", b"x" * 500, 600)
    # No write looks at the whole store: each examines its few expiry candidates and the
    # entries it evicts (one or two at this size), never a scan.
    assert logins.stats.examined <= logins.stats.writes * (EXPIRY_CHECKS_PER_WRITE + 2)
    assert len(logins.entries) < 5000


async def test_the_cap_is_in_bytes_not_entries() -> None:
    store = MemoryStore(1 * MIB)
    logins = store.budgets["logins"]
    big = b"y" * 24_000  # the size of a pending sign-in with 2048 JSON-escaped astral characters
    for number in range(100):
        await store.put(f"tx:{number}", big, 600)
    assert logins.used <= logins.max_bytes
    assert len(logins.entries) == logins.max_bytes // (len(big) + len("tx:00") + ENTRY_OVERHEAD)


async def test_using_a_session_keeps_it_from_being_evicted_first() -> None:
    store = MemoryStore(1 * MIB, shares={"sessions": 0.01, "logins": 0.495, "other": 0.495})
    sessions = store.budgets["sessions"]
    await store.put("session:old-but-active", session_record(), 3600)
    await store.put("session:old-and-idle", session_record(), 3600)
    for number in range(30):
        await store.put(f"session:filler-{number}", session_record(), 3600)
        # The active user's every request renews the session (BrowserSessions.load touches it).
        assert await store.touch("session:old-but-active", 3600)
    assert sessions.stats.evictions > 0
    assert await store.get("session:old-but-active") is not None
    assert await store.get("session:old-and-idle") is None
