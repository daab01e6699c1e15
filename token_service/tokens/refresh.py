"""Refresh tokens: opaque, stored hashed, rotated on every use within a family (RFC 9700 §4.14.2).

Reuse of a rotated token revokes the whole family, except the immediate predecessor
within a short grace window: it gets the very same successor pair back, so two tabs
refreshing at once do not sign the user out. That pair is stored encrypted under a key
derived from the predecessor token itself, so only its holder can read it (`refresh_successor`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from token_service.clock import Clock, epoch_seconds
from token_service.db.models import RefreshFamilyRow, RefreshTokenRow
from token_service.db.refresh_rotation import LoadedRow, RotationConnection, RotationStore
from token_service.errors import InvalidDPoPProof, InvalidGrant
from token_service.settings import TokenServiceSettings
from token_service.status import StatusRevocations
from token_service.tokens.refresh_successor import open_successor, seal_successor
from token_service.users.models import User


def new_family_id() -> str:
    return secrets.token_urlsafe(16)


def is_transient_conflict(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else ""
    code = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
    return "database is locked" in text or code in ("40001", "40P01")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


class ReusedRefreshToken(InvalidGrant):
    """A rotated refresh token presented again outside the grace window: its family is revoked."""

    def __init__(self, family_id: str) -> None:
        super().__init__("the refresh token was already used; the session's tokens are revoked, sign in again")
        self.family_id = family_id


@dataclass(frozen=True)
class RefreshContext:
    """What a presented, valid refresh token stands for."""

    family_id: str
    client_id: str
    user_id: str
    scope: str
    resource: str | None
    auth_time: int
    user: User
    dpop_jkt: str | None = None
    """The DPoP key a public client's family is bound to (RFC 9449 §5)."""


@dataclass(frozen=True)
class StoredRefreshToken:
    """A presented token as stored, checked usable by its client (it may be rotated already)."""

    context: RefreshContext
    expires_at: int
    family_expires_at: int
    rotated_at: int | None
    successor_ciphertext: bytes | None

    @property
    def family_id(self) -> str:
        return self.context.family_id


def _checked(found: LoadedRow | None, client_id: str, now: int) -> StoredRefreshToken:
    """The stored token if `client_id` may present it now; rotated tokens included."""
    if found is None:
        raise InvalidGrant("the refresh token is not valid")
    if found["client_id"] != client_id:
        raise InvalidGrant("the refresh token was issued to another client")
    if found["revoked_at"] is not None:
        raise InvalidGrant("the refresh token has been revoked")
    if now >= found["family_expires_at"] or now >= found["expires_at"]:
        raise InvalidGrant("the refresh token has expired; sign in again")
    if found["found_user_id"] is None:
        raise InvalidGrant("the user of this refresh token no longer exists")
    if found["disabled_at"] is not None:
        raise InvalidGrant("the user of this refresh token is disabled")
    user = User(
        id=found["found_user_id"], username=found["username"], name=found["name"], email=found["email"], email_verified=bool(found["email_verified"])
    )
    context = RefreshContext(
        found["family_id"], found["client_id"], found["user_id"], found["scope"], found["resource"], found["auth_time"], user, found["dpop_jkt"]
    )
    return StoredRefreshToken(context, found["expires_at"], found["family_expires_at"], found["rotated_at"], found["successor_ciphertext"])


def _check_binding(context: RefreshContext, dpop_jkt: str | None) -> None:
    """RFC 9449 §5: a bound refresh token needs a proof by its key (Keycloak once forgot this)."""
    if context.dpop_jkt is None or dpop_jkt == context.dpop_jkt:
        return
    if dpop_jkt is None:
        raise InvalidDPoPProof(f"the refresh token is bound to DPoP key {context.dpop_jkt}; send a DPoP proof signed by that key")
    raise InvalidDPoPProof(f"the refresh token is bound to DPoP key {context.dpop_jkt}, but the proof is signed by key {dpop_jkt}")


@dataclass(frozen=True)
class UsableRefreshToken:
    """A stored refresh token that can still be redeemed, as introspection describes it."""

    client_id: str
    user_id: str
    scope: str
    issued_at: int
    expires_at: int  # the idle expiry, already capped by the family's absolute expiry


# Builds the new token response given the context and the new refresh token; raising leaves
# the presented token unused. It runs while the rotation holds its connection, so it must not
# touch the database: a second connection taken while the first is held deadlocks the pool
# under load.
ResponseBuilder = Callable[[RefreshContext, str], dict[str, Any]]


class RefreshTokens:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: int,
        idle_ttl: int,
        grace: int,
        clock: Clock,
        status: StatusRevocations | None = None,
    ) -> None:
        self._status = status
        self._store = RotationStore(engine)
        self._sessions = sessions
        self._ttl = ttl
        self._idle_ttl = idle_ttl
        self._grace = grace
        self._clock = clock

    @classmethod
    def from_settings(
        cls, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], settings: TokenServiceSettings, clock: Clock, status: StatusRevocations | None = None
    ) -> RefreshTokens:
        return cls(
            engine,
            sessions,
            ttl=settings.refresh_token_ttl,
            idle_ttl=settings.refresh_token_idle_ttl,
            grace=settings.refresh_token_grace,
            clock=clock,
            status=status,
        )

    async def start_family(
        self,
        *,
        client_id: str,
        user_id: str,
        scope: str,
        resource: str | None,
        auth_time: int,
        session_id_hash: str | None,
        dpop_jkt: str | None = None,
        family_id: str | None = None,
    ) -> tuple[str, str]:
        """A new family and its first token. Returns (family_id, token); `family_id` is chosen
        here unless the caller reserved one (`new_family_id`)."""
        now = epoch_seconds(self._clock)
        family_id = family_id or new_family_id()
        token = new_refresh_token()
        family_expires = now + self._ttl
        async with self._sessions() as session, session.begin():
            session.add(
                RefreshFamilyRow(
                    id=family_id,
                    client_id=client_id,
                    user_id=user_id,
                    session_id_hash=session_id_hash,
                    auth_time=auth_time,
                    created_at=now,
                    expires_at=family_expires,
                    dpop_jkt=dpop_jkt,
                )
            )
            await session.flush()
            session.add(self._row(token, family_id, scope, resource, now, family_expires))
        return family_id, token

    def _row(self, token: str, family_id: str, scope: str, resource: str | None, now: int, family_expires: int) -> RefreshTokenRow:
        return RefreshTokenRow(
            token_hash=hash_token(token),
            family_id=family_id,
            scope=scope,
            resource=resource,
            created_at=now,
            expires_at=min(now + self._idle_ttl, family_expires),
        )

    async def rotate(self, token: str, client_id: str, build: ResponseBuilder, *, dpop_jkt: str | None = None) -> dict[str, Any]:
        """Exchange `token` for a new pair, exactly once per token (see module doc)."""
        if len(token) > 200:
            raise InvalidGrant("the refresh token is not valid")
        for attempt in range(4):
            try:
                return await self._rotate_once(token, client_id, build, dpop_jkt)
            except ReusedRefreshToken as reused:
                # After the rotation's connection is back in the pool (a second one taken
                # while it is held could deadlock the pool).
                await self._revoke_access_tokens([reused.family_id])
                raise
            except DBAPIError as exc:
                # SQLite answers a write conflict with "database is locked"; PostgreSQL may
                # report a serialization failure or deadlock. Retrying re-reads the winner's
                # result, which lands in the grace path: never a 500 for a race.
                if attempt == 3 or not is_transient_conflict(exc):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _rotate_once(self, token: str, client_id: str, build: ResponseBuilder, dpop_jkt: str | None) -> dict[str, Any]:
        # Two statements on one connection, each its own round trip and, on PostgreSQL, its
        # own autocommit transaction: read and check the token, build the response (which
        # signs), then claim the token and insert its successor at once. The claim is a
        # compare-and-set on `rotated_at`: of concurrent rotations of one token (on any
        # instance) exactly one changes the row; the others, the loser's signed response
        # discarded, read the winner's result in the grace path. Nothing is written before
        # the claim, so a refused build (a widened scope) leaves the token as it was.
        token_hash = hash_token(token)
        now = epoch_seconds(self._clock)
        async with self._store.connect() as connection:
            found = await connection.load(token_hash)
            stored = _checked(found, client_id, now)
            # Before anything else, the grace path included: without the key, the token is worthless.
            _check_binding(stored.context, dpop_jkt)
            if stored.rotated_at is None:
                successor = new_refresh_token()
                response = build(stored.context, successor)
                claimed = await connection.claim(
                    token_hash=token_hash,
                    sealed=seal_successor(token, response),
                    successor_hash=hash_token(successor),
                    now=now,
                    expires_at=min(now + self._idle_ttl, stored.family_expires_at),
                )
                if claimed:
                    return response
                # Lost the race (or the family was revoked meanwhile): read the outcome.
                stored = _checked(await connection.load(token_hash), client_id, now)
                if stored.rotated_at is None:
                    raise InvalidGrant("the refresh token is not valid")
            return await self._replayed(connection, token, stored, now)

    async def _replayed(self, connection: RotationConnection, token: str, stored: StoredRefreshToken, now: int) -> dict[str, Any]:
        assert stored.rotated_at is not None
        if stored.successor_ciphertext is not None:
            successor = open_successor(token, stored.successor_ciphertext)
            if successor is not None:
                successor_hash = hash_token(str(successor.get("refresh_token", "")))
                successor_unused = await connection.is_unrotated(successor_hash)
                if successor_unused and now - stored.rotated_at <= self._grace:
                    return successor
        # Reuse outside the grace window (or after the successor moved on): the token
        # may be stolen, so the whole family goes (RFC 9700 §4.14.2).
        await connection.revoke_family(stored.family_id, now)
        raise ReusedRefreshToken(stored.family_id)

    async def _revoke_access_tokens(self, family_ids: list[str]) -> None:
        """Every access token issued from these families goes with them (their status bits flip)."""
        if self._status is not None and family_ids:
            await self._status.revoke_families(family_ids)

    async def revoke_family(self, family_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(RefreshFamilyRow).where(RefreshFamilyRow.id == family_id, RefreshFamilyRow.revoked_at.is_(None)).values(revoked_at=epoch_seconds(self._clock))
            )
        await self._revoke_access_tokens([family_id])

    async def _revoke_families_where(self, *condition: Any) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(RefreshFamilyRow).where(*condition, RefreshFamilyRow.revoked_at.is_(None)).values(revoked_at=epoch_seconds(self._clock))
            )
            # Also the families revoked before: their access tokens may have been issued
            # before that and still be unexpired.
            family_ids = list((await session.execute(select(RefreshFamilyRow.id).where(*condition))).scalars())
        await self._revoke_access_tokens(family_ids)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def revoke_sessions_families(self, session_id_hash: str) -> int:
        return await self._revoke_families_where(RefreshFamilyRow.session_id_hash == session_id_hash)

    async def revoke_users_families(self, user_id: str) -> int:
        return await self._revoke_families_where(RefreshFamilyRow.user_id == user_id)

    async def revoke_clients_families(self, client_id: str) -> int:
        return await self._revoke_families_where(RefreshFamilyRow.client_id == client_id)

    async def family_of(self, token: str) -> RefreshFamilyRow | None:
        async with self._sessions() as session:
            row = await session.get(RefreshTokenRow, hash_token(token))
            return await session.get(RefreshFamilyRow, row.family_id) if row is not None else None

    async def usable(self, token: str) -> UsableRefreshToken | None:
        """The token's grant if a refresh with it would rotate now: not rotated, expired or revoked."""
        if len(token) > 200:
            return None
        now = epoch_seconds(self._clock)
        async with self._sessions() as session:
            row = await session.get(RefreshTokenRow, hash_token(token))
            family = await session.get(RefreshFamilyRow, row.family_id) if row is not None else None
        if row is None or family is None or family.revoked_at is not None or row.rotated_at is not None:
            return None
        if now >= family.expires_at or now >= row.expires_at:
            return None
        return UsableRefreshToken(family.client_id, family.user_id, row.scope, row.created_at, row.expires_at)
