"""The refresh-token rotation's statements, in SQLAlchemy Core.

A rotation is the service's hottest write, so it takes the fewest round trips each backend
allows, without the ORM's unit of work: one SELECT for the token, its family and its user,
then one statement that claims the token and inserts its successor. On PostgreSQL that is a
single autocommit statement (the claim is a data-modifying CTE feeding the INSERT), so no
BEGIN and COMMIT round trips; SQLite, which has no such CTE, runs the claim and the insert
in one write transaction that starts with the claim. Both claim by compare-and-set on
`rotated_at`, so the semantics are the same.
"""

from __future__ import annotations

from typing import Any, Unpack

from sqlalchemy import BigInteger, Row, String, Table, bindparam, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from token_service.db.models import Base

TOKENS: Table = Base.metadata.tables["refresh_tokens"]
FAMILIES: Table = Base.metadata.tables["refresh_families"]
USERS: Table = Base.metadata.tables["users"]

LoadedRow = Row[Unpack[tuple[Any, ...]]]

# Statements are built once: SQLAlchemy then finds their compiled form in its cache by key.
_LOAD = (
    select(
        TOKENS.c.family_id,
        TOKENS.c.scope,
        TOKENS.c.resource,
        TOKENS.c.expires_at,
        TOKENS.c.rotated_at,
        TOKENS.c.successor_ciphertext,
        FAMILIES.c.client_id,
        FAMILIES.c.user_id,
        FAMILIES.c.auth_time,
        FAMILIES.c.expires_at.label("family_expires_at"),
        FAMILIES.c.revoked_at,
        USERS.c.id.label("found_user_id"),
        USERS.c.username,
        USERS.c.name,
        USERS.c.email,
        USERS.c.email_verified,
    )
    .select_from(TOKENS.join(FAMILIES, FAMILIES.c.id == TOKENS.c.family_id).outerjoin(USERS, USERS.c.id == FAMILIES.c.user_id))
    .where(TOKENS.c.token_hash == bindparam("token_hash"))
)

# Compare-and-set: only an unrotated token of a family not revoked meanwhile is claimed.
_CLAIM = (
    update(TOKENS)
    .where(
        TOKENS.c.token_hash == bindparam("claimed_hash"),
        TOKENS.c.rotated_at.is_(None),
        exists().where(FAMILIES.c.id == TOKENS.c.family_id, FAMILIES.c.revoked_at.is_(None)),
    )
    .values(rotated_at=bindparam("now", type_=BigInteger), successor_ciphertext=bindparam("sealed"))
    .returning(TOKENS.c.family_id, TOKENS.c.scope, TOKENS.c.resource)
)

_SUCCESSOR_COLUMNS = ["token_hash", "family_id", "scope", "resource", "created_at", "expires_at"]

# PostgreSQL: claim and successor in one statement; it inserts a row only if the claim won.
_claimed = _CLAIM.cte("claimed")
_CLAIM_AND_INSERT = insert(TOKENS).from_select(
    _SUCCESSOR_COLUMNS,
    select(
        bindparam("successor_hash", type_=String),
        _claimed.c.family_id,
        _claimed.c.scope,
        _claimed.c.resource,
        bindparam("now", type_=BigInteger),
        bindparam("successor_expires_at", type_=BigInteger),
    ),
)

# SQLite: the successor, inserted after the claim in the same transaction.
_INSERT_SUCCESSOR = insert(TOKENS).values(
    token_hash=bindparam("successor_hash"),
    family_id=bindparam("claimed_family_id"),
    scope=bindparam("claimed_scope"),
    resource=bindparam("claimed_resource"),
    created_at=bindparam("now"),
    expires_at=bindparam("successor_expires_at"),
)

_IS_UNROTATED = select(TOKENS.c.token_hash).where(TOKENS.c.token_hash == bindparam("token_hash"), TOKENS.c.rotated_at.is_(None))

_REVOKE_FAMILY = update(FAMILIES).where(FAMILIES.c.id == bindparam("revoked_family_id")).values(revoked_at=bindparam("now", type_=BigInteger))


class RotationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._single_statement = engine.dialect.name == "postgresql"
        # On PostgreSQL every statement here stands alone (the claim and its insert are one
        # statement), so autocommit saves the BEGIN and COMMIT round trips. SQLite keeps the
        # driver's transactions: its claim and insert are two statements that must commit together.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT") if self._single_statement else engine

    def connect(self) -> AsyncConnection:
        return self._engine.connect()

    @staticmethod
    async def load(connection: AsyncConnection, token_hash: str) -> LoadedRow | None:
        """The token with its family's and its user's columns (the user's are None once deleted)."""
        return (await connection.execute(_LOAD, {"token_hash": token_hash})).first()

    async def claim(self, connection: AsyncConnection, *, token_hash: str, sealed: bytes, successor_hash: str, now: int, expires_at: int) -> bool:
        """Marks the token rotated with its sealed successor response and inserts the successor,
        atomically; False when another rotation claimed it first or its family was revoked."""
        params = {"claimed_hash": token_hash, "sealed": sealed, "now": now, "successor_hash": successor_hash, "successor_expires_at": expires_at}
        if self._single_statement:
            inserted = (await connection.execute(_CLAIM_AND_INSERT, params)).rowcount == 1
        else:
            claimed = (await connection.execute(_CLAIM, params)).first()
            if claimed is not None:
                await connection.execute(
                    _INSERT_SUCCESSOR,
                    {**params, "claimed_family_id": claimed.family_id, "claimed_scope": claimed.scope, "claimed_resource": claimed.resource},
                )
            inserted = claimed is not None
        await connection.commit()
        return inserted

    @staticmethod
    async def is_unrotated(connection: AsyncConnection, token_hash: str) -> bool:
        return (await connection.execute(_IS_UNROTATED, {"token_hash": token_hash})).first() is not None

    @staticmethod
    async def revoke_family(connection: AsyncConnection, family_id: str, now: int) -> None:
        await connection.execute(_REVOKE_FAMILY, {"revoked_family_id": family_id, "now": now})
        await connection.commit()
