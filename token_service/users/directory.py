"""The users the service owns, and how logins map onto them.

Local password users live on the `users` row alone (username and password hash) and have
no identity row: the account is the row, whichever password upstream (if any) is
configured and whatever it is named. Every upstream login (OIDC, GitHub) goes through an
identity row keyed by (upstream name, upstream subject), which is how a returning person
is recognised. `identities.email` holds the e-mail that upstream said it verified at the
last login (None otherwise); it is the evidence consulted before linking by e-mail.
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from collections.abc import Iterable

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from token_service.clock import Clock, epoch_seconds, system_clock
from token_service.db.asyncpg_statements import CompiledStatement, asyncpg_connection, runs_on_asyncpg
from token_service.db.models import Base, IdentityRow, UserRow
from token_service.db.sqlite_direct import SqliteDirect
from token_service.settings import TokenServiceSettings, UpstreamConfig
from token_service.users.models import UpstreamProfile, User
from token_service.users.names import MAX_USERNAME_LENGTH, canonical_username
from token_service.users.passwords import check_password_policy, hash_password, needs_rehash, verify_password

# A lost race on the (upstream, subject) constraint is resolved by re-reading; more than a
# few rounds would mean something else is wrong, and looping forever would hide it.
_LOGIN_ATTEMPTS = 3


class UserDirectoryError(ValueError):
    """A request the directory refuses; the message says why and what to do."""


class UsernameTakenError(UserDirectoryError):
    pass


class InvalidUsernameError(UserDirectoryError):
    pass


def normalize_username(username: str) -> str:
    # The same canonical form when adding a user, signing in and counting attempts.
    name = canonical_username(username)
    if not name:
        raise InvalidUsernameError("the username is empty")
    if len(name) > MAX_USERNAME_LENGTH:
        raise InvalidUsernameError(f"the username has {len(name)} characters; at most {MAX_USERNAME_LENGTH} are allowed")
    if any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in name):
        raise InvalidUsernameError("the username contains control or separator characters")
    return name


# Every new user's `sub` starts with this; no client_id may (clients/registry.py), so a
# client's own token (sub = client_id, RFC 9068 §5) can never name a user. Users created
# before the prefix keep their ids: the registry refuses a client_id equal to any of them.
USER_ID_PREFIX = "u_"

_USERS: Table = Base.metadata.tables["users"]
# Built once, so SQLAlchemy finds its compiled form in its cache.
_USER_BY_ID = select(
    _USERS.c.id, _USERS.c.username, _USERS.c.name, _USERS.c.email, _USERS.c.email_verified, _USERS.c.disabled_at
).where(_USERS.c.id == bindparam("user_id"))


def new_user_id() -> str:
    return USER_ID_PREFIX + secrets.token_urlsafe(16)


class UserDirectory:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        link_accounts_by_email: bool,
        vouching_upstreams: Iterable[str],
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        engine: AsyncEngine = sessions.kw["bind"]
        self._engine = engine
        self._sqlite = SqliteDirect.for_engine(engine)
        direct = runs_on_asyncpg(engine) or self._sqlite is not None
        self._user_by_id = CompiledStatement(_USER_BY_ID, engine.dialect) if direct else None
        self._link_accounts_by_email = link_accounts_by_email
        # The upstreams trusted to verify e-mail: only their word counts before linking.
        self._vouching = sorted(vouching_upstreams)
        self._clock = clock

    @classmethod
    def from_settings(cls, sessions: async_sessionmaker[AsyncSession], settings: TokenServiceSettings, *, clock: Clock = system_clock) -> UserDirectory:
        vouching = (u.name for u in settings.upstreams if u.verifies_email)
        return cls(sessions, link_accounts_by_email=settings.link_accounts_by_email, vouching_upstreams=vouching, clock=clock)

    async def get(self, user_id: str) -> User | None:
        # One Core statement, not the ORM's `session.get`: code redemption, UserInfo and
        # every authorize request read a user this way, and the ORM's session, identity map
        # and instance state cost as much again as the query (measured 430 vs 220 µs of CPU
        # on PostgreSQL, 380 vs 200 on SQLite). On PostgreSQL it runs on asyncpg itself, in
        # autocommit (db.asyncpg_statements): one round trip instead of BEGIN, SELECT,
        # ROLLBACK, without SQLAlchemy's execution layer (a code redemption 1 430 -> 1 170 µs
        # of CPU in process; benchmarks/fast_paths). On a SQLite file it runs on the process's
        # own sqlite3 connection, on the event loop (db.sqlite_direct): through SQLAlchemy it
        # was three hops to aiosqlite's thread and back (~800 µs of CPU on a loaded 2-core VM).
        if self._user_by_id is not None and self._sqlite is not None:
            columns = await self._sqlite.fetchone(self._user_by_id, {"user_id": user_id})
            return None if columns is None else User.from_columns(columns)
        if self._user_by_id is not None:
            async with asyncpg_connection(self._engine) as fast:
                found = await fast.fetchrow(self._user_by_id, {"user_id": user_id})
            return None if found is None else User.from_columns(found)
        async with self._engine.connect() as connection:
            row = (await connection.execute(_USER_BY_ID, {"user_id": user_id})).first()
        return None if row is None else User.from_columns(row._mapping)

    async def find(self, reference: str) -> User | None:
        """The user with this id, else the password user with this username."""
        user = await self.get(reference)
        if user is not None:
            return user
        try:
            username = normalize_username(reference)
        except InvalidUsernameError:
            return None
        async with self._sessions() as session:
            row = (await session.execute(select(UserRow).where(UserRow.username == username))).scalar_one_or_none()
            return User.from_row(row) if row is not None else None

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        """A disabled user cannot sign in, refresh or redeem a code: no new tokens."""
        now = epoch_seconds(self._clock)
        async with self._sessions.begin() as session:
            await session.execute(update(UserRow).where(UserRow.id == user_id).values(disabled_at=now if disabled else None, updated_at=now))

    async def list_users(self) -> list[User]:
        async with self._sessions() as session:
            rows = (await session.execute(select(UserRow).order_by(UserRow.created_at, UserRow.id))).scalars()
            return [User.from_row(row) for row in rows]

    async def add_local_user(self, username: str, password: str, email: str | None = None, name: str | None = None) -> User:
        """A user who signs in with a password. The e-mail is recorded unverified: nobody proved it."""
        normalized = normalize_username(username)
        check_password_policy(password)
        password_hash = await asyncio.to_thread(hash_password, password)
        now = epoch_seconds(self._clock)
        row = UserRow(
            id=new_user_id(),
            username=normalized,
            password_hash=password_hash,
            name=name,
            email=email,
            email_verified=False,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise UsernameTakenError(f"the username {normalized!r} is already taken") from None
        return User.from_row(row)

    async def set_password(self, user_id: str, password: str) -> None:
        """Replace the user's password (argon2id); the user then signs in with the password connector."""
        check_password_policy(password)
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self._sessions.begin() as session:
            changed = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash, updated_at=epoch_seconds(self._clock))
            )
        if changed.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
            raise UserDirectoryError(f"no user with id {user_id!r}; `token-service users add` creates one")

    async def authenticate_password(self, username: str, password: str) -> User | None:
        """The user when the password matches; None otherwise, after the same hashing work either way."""
        try:
            normalized = normalize_username(username)
        except InvalidUsernameError:
            normalized = None
        row = None
        if normalized is not None:
            async with self._sessions() as session:
                row = (await session.execute(select(UserRow).where(UserRow.username == normalized))).scalar_one_or_none()
        stored = row.password_hash if row is not None else None
        if not await asyncio.to_thread(verify_password, password, stored) or row is None or stored is None:
            return None
        if needs_rehash(stored):
            new_hash = await asyncio.to_thread(hash_password, password)
            async with self._sessions.begin() as session:
                # Only replace the hash we verified, so a concurrent password change is not undone.
                await session.execute(
                    update(UserRow)
                    .where(UserRow.id == row.id, UserRow.password_hash == stored)
                    .values(password_hash=new_hash, updated_at=epoch_seconds(self._clock))
                )
        return User.from_row(row)

    async def login_with_identity(self, profile: UpstreamProfile, upstream: UpstreamConfig) -> User:
        """The user behind this upstream identity, created on first login; profile claims refreshed every time."""
        if profile.upstream != upstream.name:
            raise ValueError(f"profile from upstream {profile.upstream!r} passed with the settings of {upstream.name!r}")
        if not profile.subject:
            raise ValueError(f"upstream {upstream.name!r} gave an empty subject")
        # Only an upstream the operator trusts to verify e-mail can make our `email_verified` true.
        email_verified = bool(profile.email and profile.email_verified and upstream.verifies_email)
        for _ in range(_LOGIN_ATTEMPTS):
            user = await self._refresh_known_identity(profile, email_verified)
            if user is not None:
                return user
            link_to = await self._account_to_link(profile, upstream, email_verified)
            try:
                return await self._create_identity(profile, email_verified, link_to)
            except IntegrityError:
                # A concurrent first login of the same identity committed first (or the user we
                # meant to link to was removed); the next round finds what is there now.
                continue
        raise RuntimeError(f"could not record the login of {profile.upstream}:{profile.subject} after {_LOGIN_ATTEMPTS} attempts")

    async def _refresh_known_identity(self, profile: UpstreamProfile, email_verified: bool) -> User | None:
        now = epoch_seconds(self._clock)
        # The transaction starts with a write, not a read: on SQLite (WAL) a read transaction that
        # later upgrades to a write fails instead of waiting when another writer committed meanwhile.
        async with self._sessions.begin() as session:
            user_id = (
                await session.execute(
                    update(IdentityRow)
                    .where(IdentityRow.upstream == profile.upstream, IdentityRow.subject == profile.subject)
                    .values(last_login_at=now, email=profile.email if email_verified else None)
                    .returning(IdentityRow.user_id)
                )
            ).scalar_one_or_none()
            if user_id is None:
                return None
            await session.execute(
                update(UserRow)
                .where(UserRow.id == user_id)
                .values(name=profile.name, email=profile.email, email_verified=email_verified, updated_at=now)
            )
            row = await session.get(UserRow, user_id, populate_existing=True)
            assert row is not None, "identities.user_id references users.id (ON DELETE CASCADE)"
            return User.from_row(row)

    async def _account_to_link(self, profile: UpstreamProfile, upstream: UpstreamConfig, email_verified: bool) -> str | None:
        """The existing user this first login may join, under every condition of `link_accounts_by_email`.

        Linking hands an existing account to whoever controls the e-mail address at this
        upstream, so both sides must be vouched for: this upstream verifies e-mail and says
        this address is verified, and the existing account's address is verified and was
        vouched for by an upstream that verifies e-mail (a local user's typed-in address never is).
        """
        if not (self._link_accounts_by_email and upstream.verifies_email and email_verified and profile.email):
            return None
        async with self._sessions() as session:
            user_ids = (
                await session.execute(
                    select(UserRow.id)
                    .join(IdentityRow, IdentityRow.user_id == UserRow.id)
                    .where(
                        UserRow.email == profile.email,
                        UserRow.email_verified.is_(True),
                        IdentityRow.email == profile.email,
                        IdentityRow.upstream.in_(self._vouching),
                    )
                    .distinct()
                )
            ).scalars().all()
        # Two accounts already share the address (linking was off when they were made): picking
        # one would be a guess, so the login gets an account of its own.
        return user_ids[0] if len(user_ids) == 1 else None

    async def _create_identity(self, profile: UpstreamProfile, email_verified: bool, link_to: str | None) -> User:
        now = epoch_seconds(self._clock)
        async with self._sessions.begin() as session:
            if link_to is None:
                user_id = new_user_id()
                session.add(
                    UserRow(
                        id=user_id,
                        username=None,
                        password_hash=None,
                        name=profile.name,
                        email=profile.email,
                        email_verified=email_verified,
                        created_at=now,
                        updated_at=now,
                    )
                )
                await session.flush()
            else:
                user_id = link_to
                await session.execute(
                    update(UserRow)
                    .where(UserRow.id == user_id)
                    .values(name=profile.name, email=profile.email, email_verified=email_verified, updated_at=now)
                )
            session.add(
                IdentityRow(
                    user_id=user_id,
                    upstream=profile.upstream,
                    subject=profile.subject,
                    email=profile.email if email_verified else None,
                    created_at=now,
                    last_login_at=now,
                )
            )
            await session.flush()
            row = await session.get(UserRow, user_id, populate_existing=True)
            assert row is not None, "the identity insert above fails on the foreign key when the user is gone"
            return User.from_row(row)
