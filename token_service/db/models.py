"""SQL tables for durable state. Times are integer Unix seconds (UTC), identical on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Columns(Protocol):
    """A row's columns by name, as the fast paths read them: a SQLAlchemy row mapping, an
    asyncpg record or a sqlite3.Row."""

    def __getitem__(self, key: str, /) -> Any: ...


class Base(DeclarativeBase):
    pass


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  # RFC 7638 thumbprint
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | active | retired | revoked
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)
    activates_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    activated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    retired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    removes_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ClientRow(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(Text, nullable=True)
    resources: Mapped[list[str]] = mapped_column(JSON)
    public: Mapped[bool] = mapped_column(Boolean)
    first_party: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Added in 0002. NULL auth method on older rows means "derive it" (public -> none, else secret).
    token_endpoint_auth_method: Mapped[str | None] = mapped_column(String(40), nullable=True)
    response_types: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    jwks_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    client_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Added in 0007: "operator" (`clients add`) or "dynamic" (RFC 7591 registration).
    origin: Mapped[str] = mapped_column(String(20), default="operator", server_default="operator")
    registration_token_hash: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True, unique=True)  # RFC 7592, SHA-256 only
    registered_openly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # first token obtained


class ResourceRow(Base):
    """A registered resource (RFC 8707): the `aud` of its tokens and the scopes it offers (added in 0006)."""

    __tablename__ = "resources"

    identifier: Mapped[str] = mapped_column(String(2048), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{"name": "notes:read", "description": "Read your notes" | null}, ...]
    scopes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # opaque, the `sub` of every token
    username: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    # Added in 0005: a disabled user gets no new tokens (login, refresh, code redemption).
    disabled_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class IdentityRow(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("upstream", "subject", name="uq_identities_upstream_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    upstream: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_login_at: Mapped[int] = mapped_column(BigInteger)


class ConsentRow(Base):
    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    # Space-separated audiences (RFC 8707 resources) approved; NULL on rows from before they were recorded.
    audiences: Mapped[str | None] = mapped_column(Text, nullable=True)
    granted_at: Mapped[int] = mapped_column(BigInteger)


class RefreshFamilyRow(Base):
    """All refresh tokens descending from one authorization; revoked as a unit on reuse (RFC 9700 §4.14.2)."""

    __tablename__ = "refresh_families"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    session_id_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    auth_time: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # RFC 9449 §5: a public client's family issued under DPoP is usable only with proofs by this key.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token; the token is never stored
    family_id: Mapped[str] = mapped_column(ForeignKey("refresh_families.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    rotated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The successor's token response, encrypted under a key derived from this (old) token, so
    # only its holder can read it during the grace window; nobody else, the database included.
    successor_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class RevokedAccessTokenRow(Base):
    """RFC 7009 deny-list of access-token `jti`s, kept until the token would have expired anyway."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class TransitionLockRow(Base):
    """One row per named transition; upserting it holds a row lock until commit (see db.locks)."""

    __tablename__ = "transition_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    touched_at: Mapped[int] = mapped_column(BigInteger)


class StatusListRow(Base):
    """A Token Status List (draft-ietf-oauth-status-list): its indices are handed out in blocks."""

    __tablename__ = "status_lists"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # The first index not yet reserved by any instance; the list is full at `size`.
    next_index: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # No token indexed in this list can be valid after this (raised with every block reserved).
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    # Raised with every revocation in the list, so instances know to rebuild its token.
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class StatusEntryRow(Base):
    """Which access token holds an index, so a revocation by user, client or family flips exactly its bits."""

    __tablename__ = "status_entries"

    list_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(200), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    family_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    # When the token was issued (rows written before migration 0009 have none).
    issued_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StatusFenceRow(Base):
    """A revocation by token, refresh family, user or client, kept while tokens it covers may be unexpired.

    Entries are written a moment after their tokens leave (status/indices.py); the instance
    that writes them checks them against the fences, so a token issued before a revocation
    is revoked even when its entry reached the database after the revocation's update.
    """

    __tablename__ = "status_fences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[int] = mapped_column(BigInteger, index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
