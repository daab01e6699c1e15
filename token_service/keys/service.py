"""Durable key operations: create, list, and load the snapshot the hot path uses."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from token_service.db.locks import lock_transitions
from token_service.db.models import SigningKeyRow
from token_service.keys.generation import SIGNING_ALG, generate_signing_key
from token_service.keys.keyring import KeyInfo, KeySnapshot, build_snapshot


class KeyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], kek: bytes, key_size: int) -> None:
        self._sessions = sessions
        self._kek = kek
        self._key_size = key_size

    async def rows(self) -> list[SigningKeyRow]:
        async with self._sessions() as session:
            result = await session.execute(select(SigningKeyRow).order_by(SigningKeyRow.created_at, SigningKeyRow.kid))
            return list(result.scalars())

    async def list(self) -> list[KeyInfo]:
        return [KeyInfo.from_row(row) for row in await self.rows()]

    async def snapshot(self) -> KeySnapshot:
        return build_snapshot(await self.rows(), self._kek)

    async def add_key(self, session: AsyncSession, *, state: str, now: int, activates_at: int | None = None) -> SigningKeyRow:
        generated = generate_signing_key(self._kek, self._key_size)
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
            await lock_transitions(session, "signing-keys")
            existing = await session.scalar(select(SigningKeyRow.kid).where(SigningKeyRow.state.in_(("active", "pending"))).limit(1))
            if existing is None:
                await self.add_key(session, state="active", now=int(time.time()))
