"""`users revoke-tokens|disable|enable` and `clients revoke-tokens|remove`: revocation from the command line.

Each command flips the status bits of every unexpired access token of the user or client
(and revokes their refresh token families), then says how many and by when every API
checking token status refuses them: the running instances notice within a poll and the
APIs within the status list's `ttl`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from token_service.clients.registry import ClientRegistry
from token_service.clock import system_clock
from token_service.db.engine import create_engine, session_factory
from token_service.runtime import prepare_database
from token_service.settings import TokenServiceSettings
from token_service.status.revocations import Revoked, StatusRevocations
from token_service.status.store import status_list_store
from token_service.tokens.refresh import RefreshTokens
from token_service.usage import UsageError
from token_service.users.directory import UserDirectory


@dataclass(frozen=True)
class Revoking:
    users: UserDirectory
    clients: ClientRegistry
    refresh_tokens: RefreshTokens
    status: StatusRevocations

    async def user(self, user_id: str) -> tuple[Revoked, int]:
        # The status first: it covers every access token of the user, those from families too.
        revoked = await self.status.revoke_user(user_id)
        return revoked, await self.refresh_tokens.revoke_users_families(user_id)

    async def client(self, client_id: str) -> tuple[Revoked, int]:
        revoked = await self.status.revoke_client(client_id)
        return revoked, await self.refresh_tokens.revoke_clients_families(client_id)


async def with_revoking(settings: TokenServiceSettings, action: Callable[[Revoking], Awaitable[int]]) -> int:
    engine: AsyncEngine = create_engine(settings)
    try:
        await prepare_database(engine, settings, migrate_now=False)
        sessions = session_factory(engine)
        status = StatusRevocations(status_list_store(sessions, settings), ttl=settings.status_list_ttl, clock=system_clock)
        revoking = Revoking(
            UserDirectory.from_settings(sessions, settings),
            ClientRegistry(sessions, {}, allow_private_urls=settings.allow_private_urls),
            RefreshTokens.from_settings(engine, sessions, settings, system_clock, status),
            status,
        )
        return await action(revoking)
    finally:
        await engine.dispose()


def report(revoked: Revoked, families: int) -> None:
    noun = "family" if families == 1 else "families"
    print(f"{revoked.sentence()}; {families} refresh token {noun} revoked")


def run_for_user(settings: TokenServiceSettings, reference: str, *, disable: bool | None) -> int:
    async def act(revoking: Revoking) -> int:
        user = await revoking.users.find(reference)
        if user is None:
            print(f"token-service: no user {reference!r} (give its id or username; `token-service users list` shows them)", file=sys.stderr)
            return 1
        if disable is not None:
            await revoking.users.set_disabled(user.id, disable)
            print(f"user {user.username or user.id} {'disabled: no new tokens' if disable else 'enabled'}")
            if not disable:
                return 0
        report(*await revoking.user(user.id))
        return 0

    return asyncio.run(with_revoking(settings, act))


def cmd_users_revoke_tokens(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    return run_for_user(settings, args.user, disable=None)


def cmd_users_disable(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    return run_for_user(settings, args.user, disable=True)


def cmd_users_enable(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    return run_for_user(settings, args.user, disable=False)


def cmd_clients_revoke_tokens(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def act(revoking: Revoking) -> int:
        if await revoking.clients.get(args.client_id) is None:
            print(f"token-service: no client {args.client_id!r}", file=sys.stderr)
            return 1
        report(*await revoking.client(args.client_id))
        return 0

    return asyncio.run(with_revoking(settings, act))


def cmd_clients_remove(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def act(revoking: Revoking) -> int:
        if args.client_id in {c.client_id for c in settings.clients}:
            raise UsageError(f"client {args.client_id!r} is declared in the config file; remove it there")
        if await revoking.clients.get(args.client_id) is None:
            print(f"token-service: no client {args.client_id!r}", file=sys.stderr)
            return 1
        # Its tokens first: a removed client's unexpired tokens must not outlive it.
        revoked, families = await revoking.client(args.client_id)
        await revoking.clients.remove(args.client_id)
        print(f"removed client {args.client_id}")
        report(revoked, families)
        return 0

    return asyncio.run(with_revoking(settings, act))


def register_user_revocation(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, handler, text in (
        ("revoke-tokens", cmd_users_revoke_tokens, "revoke every unexpired access and refresh token of a user"),
        ("disable", cmd_users_disable, "refuse the user new tokens (sign-in, refresh, code redemption) and revoke the ones they hold"),
        ("enable", cmd_users_enable, "let a disabled user sign in again"),
    ):
        parser = users.add_parser(name, help=text, description=text)
        parser.set_defaults(handler=handler)
        parser.add_argument("user", help="user id or username")
