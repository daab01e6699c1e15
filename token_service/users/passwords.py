"""Password hashing with argon2id (RFC 9106), via argon2-cffi.

Hashing costs tens of milliseconds of CPU and 64 MiB on purpose, so callers in async
code run these functions in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
# argon2 takes any length, but an unbounded input lets one request burn CPU on hashing.
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults are the RFC 9106 "low memory" profile (argon2id, t=3, m=64 MiB, p=4);
# when a release raises them, `needs_rehash` notices and stored hashes are upgraded at login.
_hasher = PasswordHasher()


class PasswordPolicyError(ValueError):
    """The password is too short or too long; the message says which and the limit."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password has {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are required")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password has {len(password)} characters; at most {MAX_PASSWORD_LENGTH} are allowed")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    # Made with the current parameters, so verifying against it costs what a real check costs.
    return _hasher.hash("no such user: this hash only exists to spend the same time")


def verify_password(password: str, stored_hash: str | None) -> bool:
    """True when `password` matches. With no stored hash (unknown user) the same work is done and False returned."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
