"""Password hashing: argon2id, equal work for unknown users, upgrades when parameters change."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from token_service.users import passwords
from token_service.users.passwords import PasswordPolicyError, hash_password, needs_rehash, verify_password


def test_hash_is_argon2id_and_verifies_only_the_same_password() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("correct horse battery", "not-a-hash")


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(str(hash))
        return super().verify(hash, password)


def test_unknown_user_is_checked_against_a_dummy_hash_with_current_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    passwords._dummy_hash.cache_clear()
    try:
        assert verify_password("any password at all", None) is False
        (dummy,) = hasher.verified
        assert not needs_rehash(dummy)
        # The dummy never matches a real password, so it cannot become a way in.
        with pytest.raises(VerifyMismatchError):
            PasswordHasher().verify(dummy, "any password at all")
    finally:
        passwords._dummy_hash.cache_clear()


def test_hash_made_with_weaker_parameters_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("correct horse battery")
    assert verify_password("correct horse battery", weak)
    assert needs_rehash(weak) and not needs_rehash(hash_password("correct horse battery"))


@pytest.mark.parametrize("password", ["1234567", "x" * 1025])
def test_password_outside_the_length_limits_is_refused(password: str) -> None:
    with pytest.raises(PasswordPolicyError):
        hash_password(password)
