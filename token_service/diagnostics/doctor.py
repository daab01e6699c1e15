"""`token-service doctor`: is this deployment able to issue tokens that APIs accept?

One line per check, `ok` / `warn` / `fail`, each failure with its fix. Exit 0 only when
nothing failed, 1 when a check failed, 2 when the settings themselves are invalid (still
reported as a check line, and the remote checks still run: they need no settings).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from token_service.diagnostics.checks import Check, fail, healthy, ok, render_json, render_text
from token_service.diagnostics.local_checks import local_checks
from token_service.diagnostics.local_database import LocalDatabaseUnavailable, describe_database, read_signing_keys
from token_service.diagnostics.remote_checks import ClientCredentials, Expected, remote_checks
from token_service.settings import ConfigurationError, TokenServiceSettings
from token_service.store.choice import describe_store
from token_service.usage import UsageError


def _credentials(args: argparse.Namespace) -> ClientCredentials | None:
    if args.client_id is None and not args.client_secret_stdin:
        return None
    if args.client_id is None or not args.client_secret_stdin:
        raise UsageError("a sign-test needs both --client-id and --client-secret-stdin (the secret on stdin)")
    if not args.issuer:
        raise UsageError("a sign-test needs --issuer: the URL of the token service to ask for a token")
    secret = sys.stdin.readline().strip()
    if not secret:
        raise UsageError("--client-secret-stdin: no secret on stdin")
    return ClientCredentials(args.client_id, secret)


async def _expected(settings: TokenServiceSettings) -> Expected:
    try:
        keys = await read_signing_keys(settings)
    except LocalDatabaseUnavailable:
        keys = []
    active = [k for k in keys if k.state == "active"]
    # The newest activation signs (as in keyring.build_snapshot).
    signer = max(active, key=lambda k: (k.activated_at or 0, k.created_at)).kid if active else None
    return Expected(issuer=settings.issuer, jwks_max_age=settings.jwks_max_age, signer_kid=signer, leeway=settings.leeway)


def _settings_line(settings: TokenServiceSettings) -> Check:
    return ok("settings", f"valid (issuer {settings.issuer}, {describe_database(settings)}, {describe_store(settings)})")


def _finish(checks: list[Check], args: argparse.Namespace, code_when_failed: int) -> int:
    print(render_json(checks) if args.json else render_text(checks))
    return 0 if healthy(checks) else code_when_failed


def cmd_doctor(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    credentials = _credentials(args)

    async def run() -> list[Check]:
        checks = [_settings_line(settings), *await local_checks(settings)]
        return checks + await remote_checks(args.issuer, await _expected(settings), credentials)

    return _finish(asyncio.run(run()), args, 1)


def report_bad_settings(error: ConfigurationError, args: argparse.Namespace) -> int:
    """Invalid settings are a failed check too; what needs no settings is still checked."""
    credentials = _credentials(args)
    line = fail("settings", str(error).replace("\n", " "), "fix the variables named above (or the TOKEN_SERVICE_CONFIG file)")
    checks = [line, *asyncio.run(remote_checks(args.issuer, Expected(), credentials))]
    _finish(checks, args, 2)
    return 2


def register(sub: Any) -> None:
    help_text = "check the local configuration and running deployments; exit 0 only when healthy"
    parser = sub.add_parser("doctor", help=help_text, description=help_text)
    parser.set_defaults(handler=cmd_doctor, report_bad_settings=report_bad_settings)
    parser.add_argument("--issuer", action="append", default=[], help="a running token service URL to check (repeat for each replica)")
    parser.add_argument("--client-id", help="a client_credentials client for a sign-test round trip")
    parser.add_argument("--client-secret-stdin", action="store_true", help="read that client's secret from stdin")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
