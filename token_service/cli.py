"""`token-service` command line. Exit codes: 0 success, 1 failed check, 2 usage or configuration error."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from token_service.clients.cli import register as register_client_commands
from token_service.db import migrate
from token_service.db.engine import create_engine
from token_service.diagnostics.cli import register as register_diagnostic_commands
from token_service.keys.cli import register as register_key_commands
from token_service.keys.sealing import new_kek_text
from token_service.resources.cli import register as register_resource_commands
from token_service.runtime import prepare_database
from token_service.settings import ConfigurationError, TokenServiceSettings, load_settings
from token_service.usage import UsageError
from token_service.users.cli import register as register_user_commands


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"token-service: {message}", file=sys.stderr)
    raise SystemExit(code)


def cmd_db_upgrade(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def run() -> int:
        engine = create_engine(settings)
        try:
            await prepare_database(engine, settings, migrate_now=True)
            print(f"database at revision {await migrate.current_revision(engine)}")
        finally:
            await engine.dispose()
        return 0

    return asyncio.run(run())


def cmd_keys_new_kek(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    print(new_kek_text())
    return 0


def cmd_serve(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    from token_service.serve import serve

    return serve(settings, host=args.host, port=args.port, migrate_now=args.migrate, workers=args.workers)


def cmd_dev(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    from token_service.dev import run_dev

    return run_dev(settings)


Command = Callable[[TokenServiceSettings, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="token-service", description="OIDC-style token service")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Command, help_text: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    serve = command("serve", cmd_serve, "run the production server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first (PostgreSQL)")
    serve.add_argument("--workers", type=int, help="worker processes (default: the CPU count; 1 with TOKEN_SERVICE_EPHEMERAL_STORE=memory)")
    command("dev", cmd_dev, "run token service (:8000) and example resource API (:8001) with demo clients and user")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    command("upgrade", cmd_db_upgrade, "apply Alembic migrations up to head", db)

    register_client_commands(sub, command)
    register_resource_commands(sub, command)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys_command", required=True)
    command("new-kek", cmd_keys_new_kek, "print a new random key-encryption key for TOKEN_SERVICE_KEY_ENCRYPTION_KEY", keys)
    register_key_commands(keys)
    register_user_commands(sub)
    register_diagnostic_commands(sub)
    return parser

def main(argv: Sequence[str] | None = None) -> NoReturn:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # `clients keygen` works without any configuration or database.
        settings = load_settings() if getattr(args, "needs_settings", True) else None
        code = args.handler(settings, args)
    except ConfigurationError as exc:
        if getattr(args, "report_bad_settings", None) is None:
            fail(str(exc))
        code = args.report_bad_settings(exc, args)  # doctor lists bad settings among its checks
    except UsageError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)
