"""The in-memory view of the signing keys: who signs now, and the JWKS bytes we publish.

A `KeySnapshot` is immutable and rebuilt from the database whenever keys change, so the
hot path (signing, serving the JWKS) reads prepared objects and never touches the database.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import RSAKey

from token_service.db.models import SigningKeyRow
from token_service.keys.sealing import unseal

PUBLISHED_STATES = ("pending", "active", "retired")


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    state: str
    created_at: int
    activates_at: int | None
    activated_at: int | None
    retired_at: int | None
    removes_at: int | None
    revoked_at: int | None
    public_jwk: dict[str, Any] = field(repr=False)

    @classmethod
    def from_row(cls, row: SigningKeyRow) -> KeyInfo:
        return cls(
            kid=row.kid,
            state=row.state,
            created_at=row.created_at,
            activates_at=row.activates_at,
            activated_at=row.activated_at,
            retired_at=row.retired_at,
            removes_at=row.removes_at,
            revoked_at=row.revoked_at,
            public_jwk=dict(row.public_jwk),
        )

    def is_published(self, now: float) -> bool:
        if self.state not in PUBLISHED_STATES:
            return False
        return self.removes_at is None or now < self.removes_at


@dataclass(frozen=True)
class KeySnapshot:
    keys: tuple[KeyInfo, ...]
    signer_kid: str | None
    signer: RSAKey | None = field(repr=False)
    jwks_bytes: bytes = field(repr=False)
    etag: str
    loaded_at: float

    def published(self) -> list[KeyInfo]:
        return [k for k in self.keys if k.is_published(self.loaded_at)]


def jwks_document(keys: list[KeyInfo], now: float) -> bytes:
    # Deterministic order and serialization: every instance serves byte-identical
    # JWKS for the same database state, hence the same ETag behind a load balancer.
    published = sorted((k for k in keys if k.is_published(now)), key=lambda k: (k.created_at, k.kid))
    body = {"keys": [k.public_jwk for k in published]}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def build_snapshot(rows: list[SigningKeyRow], kek: bytes, now: float | None = None, previous: KeySnapshot | None = None) -> KeySnapshot:
    moment = time.time() if now is None else now
    infos = tuple(KeyInfo.from_row(row) for row in rows)
    active = [row for row in rows if row.state == "active"]
    signer: RSAKey | None = None
    signer_kid: str | None = None
    if active:
        # Several actives can only appear mid-transition; the newest activation signs.
        row = max(active, key=lambda r: (r.activated_at or 0, r.created_at))
        signer_kid = row.kid
        if previous is not None and previous.signer_kid == row.kid and previous.signer is not None:
            # Decrypting and importing an RSA private key costs milliseconds of event-loop
            # time; the periodic reload keeps the already-loaded signer when it is unchanged.
            signer = previous.signer
        else:
            signer = RSAKey.import_key(unseal(kek, row.private_key_ciphertext, row.kid.encode()))
    body = jwks_document(list(infos), moment)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return KeySnapshot(keys=infos, signer_kid=signer_kid, signer=signer, jwks_bytes=body, etag=etag, loaded_at=moment)
