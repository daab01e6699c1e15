"""Concurrent token responses share one insert of their status entries, and none is ever lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from tests.support.clock import FakeClock
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings
from token_service.status import StatusIndices, status_list_store
from token_service.db.models import StatusEntryRow
from token_service.status.store import StatusEntry, StatusListStore


class FlakyStore(StatusListStore):
    """The real store, whose next insert fails once the way an unreachable database fails."""

    def __init__(self, real: StatusListStore) -> None:
        self.__dict__.update(real.__dict__)
        self.inserts: list[int] = []
        self.fail_next = False

    async def record(self, entries: list[StatusEntry]) -> None:
        self.inserts.append(len(entries))
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("database unreachable")
        await super().record(entries)


def test_concurrent_requests_share_inserts_and_a_failed_insert_loses_no_entry(make_settings: Any) -> None:
    asyncio.run(group_commit(make_settings()))


async def group_commit(settings: TokenServiceSettings) -> None:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    try:
        store = FlakyStore(status_list_store(runtime.db_sessions, settings))
        indices = StatusIndices(store, issuer=settings.issuer, block_size=256, clock=clock)

        async def token_request(n: int) -> str:
            await indices.ready()
            indices.assign(jti=f"j{n}", client_id="c", user_id=f"u{n}", family_id=None, expires_at=int(clock()) + 60)
            await asyncio.sleep(0)  # the rest of the request, as other requests run
            await indices.persist()
            return f"j{n}"

        issued = await asyncio.gather(*(token_request(n) for n in range(40)))
        stored = {entry["jti"] for entry in await store.entries(StatusEntryRow.client_id == "c")}
        assert stored == set(issued)
        assert len(store.inserts) < 10  # shared, not one insert per token

        # The insert fails: the request whose insert it was gets the error, its entries stay
        # queued, and the requests waiting on that insert store them with their own.
        store.fail_next = True
        outcomes = await asyncio.gather(*(token_request(n) for n in range(40, 60)), return_exceptions=True)
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert len(failed) == 1 and isinstance(failed[0], ConnectionError)
        stored = {entry["jti"] for entry in await store.entries(StatusEntryRow.client_id == "c")}
        assert stored == {f"j{n}" for n in range(60)}
    finally:
        await runtime.close()


def test_a_rejected_insert_raises_as_sqlalchemy_would(make_settings: Any) -> None:
    asyncio.run(rejected_insert(make_settings()))


async def rejected_insert(settings: TokenServiceSettings) -> None:
    runtime = await open_runtime(settings, migrate_now=True, clock=FakeClock())
    try:
        store = status_list_store(runtime.db_sessions, settings)
        block = await store.reserve(1_000)
        entry = StatusEntry(block.list_id, block.next, "j", "c", None, None, 2_000)
        await store.record([entry])
        with pytest.raises(IntegrityError):  # the same index twice: the primary key refuses it
            await store.record([entry._replace(jti="other")])
        assert [row["jti"] for row in await store.entries(StatusEntryRow.list_id == block.list_id)] == ["j"]
        await store.record([entry._replace(idx=block.next + 1, jti="next")])  # the connection is usable again
        assert len(await store.entries(StatusEntryRow.list_id == block.list_id)) == 2
    finally:
        await runtime.close()
