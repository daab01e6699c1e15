"""Status entries are written in the background, in shared inserts, and no revocation misses one.

A token response does not wait for its entry; these tests pin what makes that safe: a
failed insert loses nothing, a revocation made elsewhere before an entry was written still
flips its bit (the fence), a token issued after a revocation is not flipped by it, and a
shutdown writes what is queued.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from tests.support.clock import FakeClock
from token_service.db.models import StatusEntryRow
from token_service.runtime import Runtime, open_runtime
from token_service.settings import TokenServiceSettings
from token_service.status import StatusIndices, StatusRevocations, status_list_store
from token_service.status.store import StatusEntry, StatusListStore


class FlakyStore(StatusListStore):
    """The real store, whose next inserts fail the way an unreachable database fails."""

    def __init__(self, real: StatusListStore) -> None:
        self.__dict__.update(real.__dict__)
        self.inserts: list[int] = []
        self.failures = 0

    async def record(self, entries: list[StatusEntry]) -> None:
        self.inserts.append(len(entries))
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unreachable")
        await super().record(entries)


async def issue(indices: StatusIndices, clock: FakeClock, jti: str, *, user_id: str | None = None) -> dict[str, Any]:
    await indices.ready()
    return indices.assign(jti=jti, client_id="c", user_id=user_id, family_id=None, expires_at=int(clock()) + 60)


async def stored_jtis(store: StatusListStore) -> set[str]:
    return {entry["jti"] for entry in await store.entries(StatusEntryRow.client_id == "c")}


async def eventually(check: Any, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return True
        await asyncio.sleep(0.02)
    return bool(await check())


def test_entries_are_written_in_shared_inserts_and_a_failed_insert_loses_none(make_settings: Any) -> None:
    asyncio.run(shared_inserts(make_settings()))


async def shared_inserts(settings: TokenServiceSettings) -> None:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = FlakyStore(status_list_store(runtime.db_sessions, settings))
        indices = StatusIndices(store, issuer=settings.issuer, block_size=256, clock=clock, flush_seconds=0.05)
        for n in range(40):
            await issue(indices, clock, f"j{n}")
        assert indices.queued == 40 and await stored_jtis(store) == set()  # nobody waited for an insert
        assert await eventually(lambda: _equals(stored_jtis(store), {f"j{n}" for n in range(40)}))
        assert store.inserts == [40]  # one insert for all of them

        # The database refuses two inserts: the writer keeps the entries and retries.
        store.failures = 2
        for n in range(40, 60):
            await issue(indices, clock, f"j{n}")
        assert await eventually(lambda: _equals(stored_jtis(store), {f"j{n}" for n in range(60)}))
        assert store.inserts[1:3] == [20, 20] and sum(store.inserts[3:]) == 20
    finally:
        await runtime.close()


async def _equals(value: Any, expected: object) -> bool:
    return bool(await value == expected)


def test_a_revocation_before_the_entry_is_written_still_flips_its_bit(make_settings: Any) -> None:
    asyncio.run(fenced(make_settings()))


async def fenced(settings: TokenServiceSettings) -> None:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = status_list_store(runtime.db_sessions, settings)
        # A long flush interval: the entries are still in this instance's memory when another
        # process (the CLI, another instance) revokes.
        indices = StatusIndices(store, issuer=settings.issuer, block_size=256, clock=clock, flush_seconds=3600)
        elsewhere = StatusRevocations(store, ttl=10, clock=clock)
        await issue(indices, clock, "alice-1", user_id="alice")
        await issue(indices, clock, "bob-1", user_id="bob")
        await issue(indices, clock, "by-jti")
        assert (await elsewhere.revoke_user("alice")).count == 0  # nothing stored yet to update
        assert (await elsewhere.revoke_token("by-jti")).count == 0
        clock.advance(1)
        await issue(indices, clock, "alice-2", user_id="alice")  # issued after the revocation: stays valid

        await indices.flush()
        entries = {entry["jti"]: entry["revoked"] for entry in await store.entries(StatusEntryRow.client_id == "c")}
        assert entries == {"alice-1": True, "bob-1": False, "by-jti": True, "alice-2": False}
        assert len(await store.fences_since(0)) == 2
        # Once no token issued before them can still be valid, the fences are purged.
        clock.advance(settings.access_token_ttl + settings.leeway + 1)
        await store.purge(int(clock()))
        assert await store.fences_since(0) == []
    finally:
        await runtime.close()


def test_a_revocation_on_the_instance_writes_its_queue_first_and_shutdown_writes_the_rest(make_settings: Any) -> None:
    asyncio.run(local_revocation(make_settings()))


async def local_revocation(settings: TokenServiceSettings) -> None:
    clock = FakeClock()
    runtime: Runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = status_list_store(runtime.db_sessions, settings)
        indices = StatusIndices(store, issuer=settings.issuer, block_size=256, clock=clock, flush_seconds=3600)
        here = StatusRevocations(store, ttl=10, clock=clock, pending=indices)
        await issue(indices, clock, "carol-1", user_id="carol")
        revoked = await here.revoke_user("carol")
        assert revoked.count == 1 and indices.queued == 0  # counted: the entry was written first

        await issue(indices, clock, "dave-1", user_id="dave")
        await indices.close()
        assert await stored_jtis(store) == {"carol-1", "dave-1"}
    finally:
        await runtime.close()


def test_a_rejected_insert_raises_as_sqlalchemy_would(make_settings: Any) -> None:
    asyncio.run(rejected_insert(make_settings()))


async def rejected_insert(settings: TokenServiceSettings) -> None:
    runtime = await open_runtime(settings, migrate_now=True, clock=FakeClock())
    try:
        store = status_list_store(runtime.db_sessions, settings)
        block = await store.reserve(1_000)
        entry = StatusEntry(block.list_id, block.next, "j", "c", None, None, 2_000, 1_000)
        await store.record([entry])
        with pytest.raises(IntegrityError):  # the same index twice: the primary key refuses it
            await store.record([entry._replace(jti="other")])
        assert [row["jti"] for row in await store.entries(StatusEntryRow.list_id == block.list_id)] == ["j"]
        await store.record([entry._replace(idx=block.next + 1, jti="next")])  # the connection is usable again
        assert len(await store.entries(StatusEntryRow.list_id == block.list_id)) == 2
    finally:
        await runtime.close()
