"""Users the service owns: who a login maps to, when accounts are linked, and password sign-in."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from tests.users.conftest import open_directory
from token_service.db.engine import create_engine, session_factory
from token_service.db.models import IdentityRow, UserRow
from token_service.settings import TokenServiceSettings, UpstreamConfig
from token_service.users.directory import UserDirectory, UserDirectoryError, UsernameTakenError
from token_service.users.models import UpstreamProfile
from token_service.users.passwords import PasswordPolicyError, needs_rehash, verify_password

Row = TypeVar("Row", UserRow, IdentityRow)


async def rows(settings: TokenServiceSettings, model: type[Row]) -> list[Row]:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(select(model))).scalars())
    finally:
        await engine.dispose()


def upstream(settings: TokenServiceSettings, name: str) -> UpstreamConfig:
    return next(u for u in settings.upstreams if u.name == name)


def alice(upstream_name: str = "corp", subject: str = "alice-1", **changes: Any) -> UpstreamProfile:
    profile = UpstreamProfile(
        upstream=upstream_name,
        subject=subject,
        name="Alice",
        email="alice@example.com",
        email_verified=True,
        preferred_username="alice",
    )
    return replace(profile, **changes)


async def login(directory: UserDirectory, settings: TokenServiceSettings, profile: UpstreamProfile) -> str:
    return (await directory.login_with_identity(profile, upstream(settings, profile.upstream))).id


# ---- upstream logins ----------------------------------------------------------------


async def test_first_login_creates_a_user_and_the_next_finds_it(directory: UserDirectory, settings: TokenServiceSettings) -> None:
    first = await directory.login_with_identity(alice(), upstream(settings, "corp"))
    (identity,) = await rows(settings, IdentityRow)
    second = await directory.login_with_identity(alice(), upstream(settings, "corp"))

    assert second.id == first.id and len(first.id) >= 20
    assert (first.name, first.email, first.email_verified, first.username) == ("Alice", "alice@example.com", True, None)
    assert await directory.get(first.id) == second
    assert len(await rows(settings, UserRow)) == 1
    (after,) = await rows(settings, IdentityRow)
    assert (after.upstream, after.subject, after.user_id) == ("corp", "alice-1", first.id)
    assert after.last_login_at >= identity.last_login_at >= int(time.time()) - 60


async def test_profile_claims_are_refreshed_at_every_login(directory: UserDirectory, settings: TokenServiceSettings) -> None:
    user_id = await login(directory, settings, alice())
    renamed = await directory.login_with_identity(
        alice(name="Alice Married", email="alice@new.example", email_verified=False), upstream(settings, "corp")
    )
    assert renamed.id == user_id
    assert (renamed.name, renamed.email, renamed.email_verified) == ("Alice Married", "alice@new.example", False)
    assert await directory.get(user_id) == renamed


async def test_email_from_an_upstream_that_does_not_verify_is_never_marked_verified(
    directory: UserDirectory, settings: TokenServiceSettings
) -> None:
    user = await directory.login_with_identity(alice("social"), upstream(settings, "social"))
    assert (user.email, user.email_verified) == ("alice@example.com", False)


async def test_same_email_at_another_upstream_is_another_user_by_default(directory: UserDirectory, settings: TokenServiceSettings) -> None:
    assert not settings.link_accounts_by_email
    first = await login(directory, settings, alice("corp"))
    second = await login(directory, settings, alice("partner", subject="p-77"))
    assert first != second
    assert len(await rows(settings, UserRow)) == 2


async def test_same_verified_email_links_when_enabled_and_both_upstreams_verify(settings: TokenServiceSettings) -> None:
    linking = settings.model_copy(update={"link_accounts_by_email": True})
    async with open_directory(linking) as directory:
        first = await login(directory, linking, alice("corp"))
        second = await login(directory, linking, alice("github", subject="583231"))
        again = await login(directory, linking, alice("github", subject="583231"))
    assert first == second == again
    assert len(await rows(settings, UserRow)) == 1
    assert sorted(i.upstream for i in await rows(settings, IdentityRow)) == ["corp", "github"]


@pytest.mark.parametrize(
    ("existing", "arriving"),
    [
        # the arriving upstream does not verify e-mail
        (alice("corp"), alice("social", subject="s-1")),
        # the arriving e-mail is not verified
        (alice("corp"), alice("partner", subject="p-1", email_verified=False)),
        # the existing account's e-mail came from an upstream that does not verify e-mail
        (alice("social"), alice("partner", subject="p-1")),
        # the existing account's e-mail was not verified
        (alice("corp", email_verified=False), alice("partner", subject="p-1")),
        # another address
        (alice("corp"), alice("partner", subject="p-1", email="alice@other.example")),
    ],
)
async def test_linking_by_email_needs_every_condition(
    settings: TokenServiceSettings, existing: UpstreamProfile, arriving: UpstreamProfile
) -> None:
    linking = settings.model_copy(update={"link_accounts_by_email": True})
    async with open_directory(linking) as directory:
        first = await login(directory, linking, existing)
        second = await login(directory, linking, arriving)
    assert first != second


async def test_no_link_when_the_vouching_upstream_no_longer_verifies_email(settings: TokenServiceSettings) -> None:
    linking = settings.model_copy(update={"link_accounts_by_email": True})
    async with open_directory(linking) as directory:
        first = await login(directory, linking, alice("corp"))
    distrusted = [u.model_copy(update={"verifies_email": False}) if u.name == "corp" else u for u in settings.upstreams]
    later = linking.model_copy(update={"upstreams": distrusted})
    async with open_directory(later) as directory:
        second = await login(directory, later, alice("partner", subject="p-1"))
    assert first != second


async def test_no_link_when_the_accounts_latest_email_is_unverified(settings: TokenServiceSettings) -> None:
    linking = settings.model_copy(update={"link_accounts_by_email": True})
    async with open_directory(linking) as directory:
        first = await login(directory, linking, alice("corp"))
        assert await login(directory, linking, alice("github", subject="583231")) == first
        # corp now reports the address unverified; github's older word for it must not be enough.
        await login(directory, linking, alice("corp", email_verified=False))
        arriving = await login(directory, linking, alice("partner", subject="p-1"))
    assert arriving != first


async def test_local_user_with_the_same_email_is_never_linked(settings: TokenServiceSettings) -> None:
    linking = settings.model_copy(update={"link_accounts_by_email": True})
    async with open_directory(linking) as directory:
        local = await directory.add_local_user("alice", "correct horse battery", email="alice@example.com")
        # Even an operator flag on the row does not say which upstream vouched for the address.
        engine = create_engine(linking)
        async with session_factory(engine).begin() as session:
            await session.execute(update(UserRow).where(UserRow.id == local.id).values(email_verified=True))
        await engine.dispose()
        arriving = await login(directory, linking, alice("corp"))
    assert arriving != local.id


async def test_concurrent_first_logins_of_one_identity_create_one_user(settings: TokenServiceSettings) -> None:
    # Two directories on separate engines stand for two service instances.
    async with open_directory(settings) as one, open_directory(settings) as two:
        ids = await asyncio.gather(*(login(d, settings, alice()) for d in [one, two] * 5))
    assert len(set(ids)) == 1
    assert len(await rows(settings, UserRow)) == 1
    assert len(await rows(settings, IdentityRow)) == 1


async def test_profile_from_another_upstream_than_its_settings_is_refused(directory: UserDirectory, settings: TokenServiceSettings) -> None:
    with pytest.raises(ValueError, match="corp"):
        await directory.login_with_identity(alice("corp"), upstream(settings, "partner"))


# ---- password users -----------------------------------------------------------------


async def test_password_sign_in_accepts_the_right_password_only(directory: UserDirectory) -> None:
    added = await directory.add_local_user("Bob", "correct horse battery", email="bob@example.com", name="Bob")
    assert added.username == "bob" and added.email_verified is False
    assert await directory.authenticate_password("bob", "correct horse battery") == added
    assert await directory.authenticate_password("BOB", "correct horse battery") == added
    assert await directory.authenticate_password("bob", "wrong horse battery") is None
    assert await directory.authenticate_password("nobody", "correct horse battery") is None
    assert await directory.get(added.id) == added
    assert await directory.get("no-such-id") is None


async def test_unknown_user_costs_a_full_password_check(directory: UserDirectory, monkeypatch: pytest.MonkeyPatch) -> None:
    await directory.add_local_user("carol", "correct horse battery")
    checked: list[str | None] = []

    def spy(password: str, stored_hash: str | None) -> bool:
        checked.append(stored_hash)
        return verify_password(password, stored_hash)

    monkeypatch.setattr("token_service.users.directory.verify_password", spy)
    assert await directory.authenticate_password("nobody", "whatever-password") is None
    assert await directory.authenticate_password("carol", "wrong-password") is None
    assert len(checked) == 2 and checked[0] is None and checked[1] is not None


async def test_short_password_and_taken_username_are_refused(directory: UserDirectory) -> None:
    with pytest.raises(PasswordPolicyError, match="at least 8"):
        await directory.add_local_user("dave", "short")
    await directory.add_local_user("dave", "long enough password")
    with pytest.raises(UsernameTakenError, match="dave"):
        await directory.add_local_user("Dave", "another long password")


async def test_hash_with_old_parameters_is_upgraded_at_sign_in(directory: UserDirectory, settings: TokenServiceSettings) -> None:
    user = await directory.add_local_user("erin", "correct horse battery")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("correct horse battery")
    engine = create_engine(settings)
    async with session_factory(engine).begin() as session:
        await session.execute(update(UserRow).where(UserRow.id == user.id).values(password_hash=weak))
    await engine.dispose()

    assert await directory.authenticate_password("erin", "correct horse battery") == user

    (row,) = [r for r in await rows(settings, UserRow) if r.id == user.id]
    assert row.password_hash != weak and row.password_hash is not None and not needs_rehash(row.password_hash)
    assert await directory.authenticate_password("erin", "correct horse battery") == user


async def test_set_password_replaces_the_old_one_and_refuses_unknown_users(directory: UserDirectory) -> None:
    user = await directory.add_local_user("frank", "first long password")
    await directory.set_password(user.id, "second long password")
    assert await directory.authenticate_password("frank", "first long password") is None
    signed_in = await directory.authenticate_password("frank", "second long password")
    assert signed_in is not None and signed_in.id == user.id
    with pytest.raises(PasswordPolicyError, match="at least 8"):
        await directory.set_password(user.id, "short")
    with pytest.raises(UserDirectoryError, match="no-such-id"):
        await directory.set_password("no-such-id", "third long password")
