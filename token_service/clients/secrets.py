"""Client secrets: generated with 256 bits of entropy and stored only as a hash.

A fast hash (SHA-256) is the right tool here, unlike for passwords: a secret of at
least 32 random characters cannot be brute-forced offline, and the token endpoint
must not spend a slow hash on every request. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MIN_SECRET_LENGTH = 32
_PREFIX = "sha256$"


class WeakSecretError(ValueError):
    pass


def generate_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise WeakSecretError(
            f"the client secret has {len(secret)} characters; at least {MIN_SECRET_LENGTH} are required "
            "(leave --secret out to have a 256-bit secret generated)"
        )
    return _PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def is_valid_secret_hash(value: str) -> bool:
    digest = value.removeprefix(_PREFIX)
    return value.startswith(_PREFIX) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


# Compared against when the client does not exist, so both paths do the same work.
_DUMMY_HASH = _PREFIX + hashlib.sha256(b"no such client").hexdigest()


def verify_client_secret(secret: str, stored_hash: str | None) -> bool:
    candidate = _PREFIX + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    expected = stored_hash if stored_hash else _DUMMY_HASH
    return hmac.compare_digest(candidate.encode(), expected.encode()) and stored_hash is not None
