"""`token-service users ...`: local password users, managed from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from token_service.usage import UsageError
from token_service.db.engine import create_engine, session_factory
from token_service.runtime import prepare_database
from token_service.settings import TokenServiceSettings
from token_service.status.cli import register_user_revocation
from token_service.users.directory import UserDirectory, UserDirectoryError
from token_service.users.models import User
from token_service.users.passwords import PasswordPolicyError


async def with_directory(settings: TokenServiceSettings, action: Callable[[UserDirectory], Awaitable[int]]) -> int:
    engine = create_engine(settings)
    try:
        await prepare_database(engine, settings, migrate_now=False)
        return await action(UserDirectory.from_settings(session_factory(engine), settings))
    finally:
        await engine.dispose()


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verified,
        "disabled": user.disabled,
    }


def cmd_users_add(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    if not args.password_stdin:
        # A password on the command line would land in shell history and `ps` output.
        raise UsageError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")

    async def add(directory: UserDirectory) -> int:
        try:
            user = await directory.add_local_user(args.username, password, email=args.email, name=args.name)
        except (PasswordPolicyError, UserDirectoryError) as exc:
            raise UsageError(str(exc)) from None
        print(json.dumps(user_json(user)))
        return 0

    return asyncio.run(with_directory(settings, add))


def cmd_users_list(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def show(directory: UserDirectory) -> int:
        users = await directory.list_users()
        if args.json:
            print(json.dumps([user_json(u) for u in users], indent=2))
            return 0
        for u in users:
            kind = ("password" if u.username is not None else "upstream") + (", disabled" if u.disabled else "")
            print(f"{u.id}\t{u.username or '-'}\t{u.email or '-'}\t{u.name or '-'}\t({kind})")
        return 0

    return asyncio.run(with_directory(settings, show))


def register(subparsers: Any) -> None:
    """Adds `users add|list|revoke-tokens|disable|enable` to the `token-service` parser."""
    users = subparsers.add_parser("users", help="users who sign in with a password").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="add a password user", description="add a password user; prints its JSON")
    add.set_defaults(handler=cmd_users_add)
    add.add_argument("username")
    add.add_argument("--email")
    add.add_argument("--name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")
    lst = users.add_parser("list", help="list users", description="list users")
    lst.set_defaults(handler=cmd_users_list)
    lst.add_argument("--json", action="store_true")
    register_user_revocation(users)
