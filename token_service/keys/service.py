"""Durable key operations: create, list, change state, and load the snapshot the hot path uses.

Every state change runs as one transaction under `lock_transitions("signing-keys")`, and
re-reads the keys inside the lock before planning: with several instances (and the CLI)
on one database, the first to take the lock performs a due transition and the others
find nothing left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.clock import Clock, epoch_seconds, system_clock
from token_service.db.locks import lock_transitions
from token_service.db.models import SigningKeyRow
from token_service.keys.generation import SIGNING_ALG, generate_signing_key
from token_service.keys.keyring import KeyInfo, KeySnapshot, build_snapshot
from token_service.keys.lifecycle import (
    Activate,
    KeyTimings,
    NewKey,
    Retire,
    Revoke,
    Transition,
    plan_due,
    plan_retire,
    plan_revoke,
    plan_rotation,
)
from token_service.keys.sealing import unseal
from token_service.settings import TokenServiceSettings

LOCK_NAME = "signing-keys"

# Module-level names: inside KeyService, `list` is the method listing keys.
Plan = list[Transition]
Planner = Callable[[Sequence[KeyInfo]], Plan]


class KeyService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], kek: bytes, key_size: int, timings: KeyTimings, *, clock: Clock = system_clock
    ) -> None:
        self._sessions = sessions
        self._kek = kek
        self._key_size = key_size
        self.timings = timings
        self._clock = clock

    @classmethod
    def from_settings(
        cls, sessions: async_sessionmaker[AsyncSession], kek: bytes, settings: TokenServiceSettings, *, clock: Clock = system_clock
    ) -> KeyService:
        return cls(sessions, kek, settings.key_size, KeyTimings.from_settings(settings), clock=clock)

    def _now(self, now: int | None) -> int:
        return epoch_seconds(self._clock) if now is None else now

    async def rows(self) -> list[SigningKeyRow]:
        async with self._sessions() as session:
            return await self._rows(session)

    @staticmethod
    async def _rows(session: AsyncSession) -> list[SigningKeyRow]:
        result = await session.execute(select(SigningKeyRow).order_by(SigningKeyRow.created_at, SigningKeyRow.kid))
        return list(result.scalars())

    async def list(self) -> list[KeyInfo]:
        return [KeyInfo.from_row(row) for row in await self.rows()]

    async def snapshot(self, now: float | None = None, previous: KeySnapshot | None = None) -> KeySnapshot:
        rows = await self.rows()
        now = self._clock() if now is None else now
        # Importing a new private key takes tens of milliseconds: off the event loop.
        return await asyncio.to_thread(build_snapshot, rows, self._kek, now, previous)

    async def add_key(self, session: AsyncSession, *, state: str, now: int, activates_at: int | None = None) -> SigningKeyRow:
        # RSA generation takes a noticeable fraction of a second: off the event loop, so
        # an instance rotating keeps serving requests meanwhile.
        generated = await asyncio.to_thread(generate_signing_key, self._kek, self._key_size)
        row = SigningKeyRow(
            kid=generated.kid,
            state=state,
            alg=SIGNING_ALG,
            public_jwk=generated.public_jwk,
            private_key_ciphertext=generated.private_key_ciphertext,
            created_at=now,
            activates_at=activates_at if activates_at is not None else (now if state == "active" else None),
            activated_at=now if state == "active" else None,
        )
        session.add(row)
        await session.flush()
        return row

    async def ensure_signing_key(self) -> None:
        """First start: generate the first key. Later starts (and other instances) reuse it."""
        async with self._sessions() as session, session.begin():
            await lock_transitions(session, LOCK_NAME, now=epoch_seconds(self._clock))
            existing = await session.scalar(select(SigningKeyRow.kid).where(SigningKeyRow.state.in_(("active", "pending"))).limit(1))
            if existing is None:
                await self.add_key(session, state="active", now=epoch_seconds(self._clock))

    async def advance(self, now: int | None = None) -> Plan:
        """Performs every transition due at `now` (activation, hand-over, automatic
        pre-publication); returns what this call did, empty if another instance did it."""
        moment = self._now(now)
        # Every instance calls this every few seconds: a plain read decides whether the
        # lock (a write) is worth taking at all; inside it the plan is made again.
        if not plan_due(await self.list(), moment, self.timings):
            return []
        return await self._transact(moment, lambda keys: plan_due(keys, moment, self.timings))

    async def rotate(self, *, activate_now: bool, now: int | None = None) -> Plan:
        moment = self._now(now)
        return await self._transact(moment, lambda keys: plan_rotation(keys, moment, self.timings, activate_now=activate_now))

    async def retire(self, kid: str, now: int | None = None) -> Plan:
        moment = self._now(now)
        return await self._transact(moment, lambda keys: plan_retire(keys, kid, moment, self.timings))

    async def revoke(self, kid: str, now: int | None = None) -> Plan:
        moment = self._now(now)
        return await self._transact(moment, lambda keys: plan_revoke(keys, kid, moment, self.timings))

    async def _transact(self, now: int, planner: Planner) -> Plan:
        """Plans on the rows read inside the lock (the compare step) and applies the plan in
        the same transaction (the set step). `NewKey` entries come back with their kid."""
        async with self._sessions() as session, session.begin():
            await lock_transitions(session, LOCK_NAME, now=now)
            rows = {row.kid: row for row in await self._rows(session)}
            plan = planner([KeyInfo.from_row(row) for row in rows.values()])
            if any(isinstance(step, NewKey) for step in plan):
                self._check_kek(rows.values())
            done: Plan = []
            for step in plan:
                done.append(await self._apply(session, rows, step, now))
            return done

    async def _apply(self, session: AsyncSession, rows: dict[str, SigningKeyRow], step: Transition, now: int) -> Transition:
        if isinstance(step, NewKey):
            row = await self.add_key(session, state="active" if step.active else "pending", now=now, activates_at=step.activates_at)
            return replace(step, kid=row.kid)
        row = rows[step.kid]
        if isinstance(step, Activate):
            row.state, row.activated_at = "active", now
        elif isinstance(step, Retire):
            row.state, row.retired_at, row.removes_at = "retired", now, step.removes_at
        elif isinstance(step, Revoke):
            row.state, row.revoked_at = "revoked", now
        await session.flush()
        return step

    def _check_kek(self, rows: Iterable[SigningKeyRow]) -> None:
        # A key sealed under a different KEK than the running instances use would make
        # them unable to sign once it activates; fail here, before anything changes.
        for row in rows:
            if row.state == "active":
                unseal(self._kek, row.private_key_ciphertext, row.kid.encode())
                return
