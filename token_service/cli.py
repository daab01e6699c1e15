"""`token-service` command line. Exit codes: 0 success, 1 failed check, 2 usage or configuration error."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from token_service.clients.registry import GRANT_TYPES, ClientExistsError, ClientRegistry, config_clients
from token_service.clients.secrets import WeakSecretError, generate_client_secret, hash_client_secret
from token_service.db import migrate
from token_service.db.engine import create_engine, session_factory
from token_service.diagnostics.cli import register as register_diagnostic_commands
from token_service.keys.cli import register as register_key_commands
from token_service.keys.sealing import new_kek_text
from token_service.runtime import prepare_database
from token_service.settings import ConfigurationError, TokenServiceSettings, is_loopback_host, load_settings
from token_service.usage import UsageError
from token_service.users.cli import register as register_user_commands


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"token-service: {message}", file=sys.stderr)
    raise SystemExit(code)


def validate_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment:
        raise UsageError(f"redirect URI {uri!r} must be absolute and without a fragment (RFC 6749 §3.1.2)")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise UsageError(f"redirect URI {uri!r} uses http on a non-loopback host; use https (RFC 9700 §2.1)")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise UsageError(f"redirect URI {uri!r} has no host")
    return uri


async def with_registry(settings: TokenServiceSettings, action: Callable[[ClientRegistry], Awaitable[int]]) -> int:
    engine = create_engine(settings)
    try:
        await prepare_database(engine, settings, migrate_now=False)
        return await action(ClientRegistry(session_factory(engine), config_clients(settings.clients)))
    finally:
        await engine.dispose()


def cmd_clients_add(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    grants = list(dict.fromkeys(args.grant))
    redirect_uris = [validate_redirect_uri(u) for u in args.redirect_uri]
    post_logout = [validate_redirect_uri(u) for u in args.post_logout_redirect_uri]
    if "authorization_code" in grants and not redirect_uris:
        raise UsageError("--grant authorization_code needs at least one --redirect-uri")
    if args.public and "client_credentials" in grants:
        raise UsageError("a public client cannot use client_credentials (it has no secret to authenticate with)")
    if args.public and args.secret:
        raise UsageError("--public clients have no secret; leave out --secret")
    secret = None if args.public else (args.secret or generate_client_secret())
    try:
        secret_hash = hash_client_secret(secret) if secret is not None else None
    except WeakSecretError as exc:
        raise UsageError(str(exc)) from None
    client_id = args.client_id or f"client-{generate_client_secret()[:12]}"

    async def add(registry: ClientRegistry) -> int:
        try:
            await registry.add(
                client_id=client_id,
                secret_hash=secret_hash,
                grant_types=grants,
                redirect_uris=redirect_uris,
                post_logout_redirect_uris=post_logout,
                scope=args.scope,
                audience=args.audience,
                resources=args.resource,
                public=args.public,
                first_party=args.first_party,
            )
        except ClientExistsError as exc:
            raise UsageError(str(exc)) from None
        print(json.dumps({"client_id": client_id, "client_secret": secret}))
        return 0

    return asyncio.run(with_registry(settings, add))


def cmd_clients_list(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def show(registry: ClientRegistry) -> int:
        clients = await registry.list()
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "client_id": c.client_id,
                            "grant_types": sorted(c.grant_types),
                            "scope": c.scope_text,
                            "audience": c.audience,
                            "redirect_uris": list(c.redirect_uris),
                            "public": c.public,
                            "first_party": c.first_party,
                            "source": c.source,
                        }
                        for c in clients
                    ],
                    indent=2,
                )
            )
            return 0
        for c in clients:
            kind = "public" if c.public else "confidential"
            print(f"{c.client_id}\t{kind}\t{','.join(sorted(c.grant_types))}\tscope={c.scope_text!r}\taudience={c.audience}\t({c.source})")
        return 0

    return asyncio.run(with_registry(settings, show))


def cmd_clients_remove(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def remove(registry: ClientRegistry) -> int:
        if await registry.get(args.client_id) is not None and args.client_id in {c.client_id for c in settings.clients}:
            raise UsageError(f"client {args.client_id!r} is declared in the config file; remove it there")
        if not await registry.remove(args.client_id):
            print(f"token-service: no client {args.client_id!r}", file=sys.stderr)
            return 1
        print(f"removed client {args.client_id}")
        return 0

    return asyncio.run(with_registry(settings, remove))


def cmd_clients_hash_secret(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    secret = sys.stdin.readline().rstrip("\n")
    try:
        print(hash_client_secret(secret))
    except WeakSecretError as exc:
        raise UsageError(str(exc)) from None
    return 0


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
    serve.add_argument("--workers", type=int, help="worker processes (default: CPU count with Redis, 1 on the in-process store)")
    command("dev", cmd_dev, "run token service (:8000) and example resource API (:8001) with demo clients and user")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    command("upgrade", cmd_db_upgrade, "apply Alembic migrations up to head", db)

    clients = sub.add_parser("clients", help="registered clients").add_subparsers(dest="clients_command", required=True)
    add = command("add", cmd_clients_add, "register a client; prints JSON with the secret (shown once)", clients)
    add.add_argument("--grant", action="append", required=True, choices=GRANT_TYPES)
    add.add_argument("--redirect-uri", action="append", default=[])
    add.add_argument("--post-logout-redirect-uri", action="append", default=[])
    add.add_argument("--scope", default="")
    add.add_argument("--audience", help="default `aud` of its access tokens")
    add.add_argument("--resource", action="append", default=[], help="other audience it may request (RFC 8707)")
    add.add_argument("--public", action="store_true", help="a browser or native app without a secret (PKCE)")
    add.add_argument("--first-party", action="store_true", help="skip the consent page")
    add.add_argument("--client-id")
    add.add_argument("--secret", help="at least 32 characters; default: a generated 256-bit secret")
    lst = command("list", cmd_clients_list, "list clients", clients)
    lst.add_argument("--json", action="store_true")
    rm = command("remove", cmd_clients_remove, "remove a client", clients)
    rm.add_argument("client_id")
    command("hash-secret", cmd_clients_hash_secret, "read a secret on stdin, print the hash for client_secret_hash", clients)

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
        settings = load_settings()
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
