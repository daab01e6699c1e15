"""`token-service keys list|rotate|retire|revoke`: operate the signing-key lifecycle.

Running instances pick each change up within their key-polling interval; the messages say
when verifiers will see it, since that is what an operator on call needs to know.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from token_service.db.engine import create_engine, session_factory
from token_service.keys.keyring import KeyInfo
from token_service.keys.lifecycle import (
    Activate,
    KeyLifecycleError,
    NewKey,
    Retire,
    Transition,
    iso_utc,
)
from token_service.keys.sealing import KeyDecryptionError, load_kek
from token_service.keys.service import KeyService
from token_service.clock import epoch_seconds, system_clock
from token_service.runtime import KEY_POLL_SECONDS, prepare_database
from token_service.settings import ConfigurationError, TokenServiceSettings


def _fail(message: str) -> int:
    print(f"token-service: {message}", file=sys.stderr)
    return 2


async def _with_keys(settings: TokenServiceSettings, action: Callable[[KeyService], Awaitable[int]]) -> int:
    kek = load_kek(settings)
    engine = create_engine(settings)
    try:
        await prepare_database(engine, settings, migrate_now=False)
        return await action(KeyService.from_settings(session_factory(engine), kek, settings))
    except KeyLifecycleError as exc:
        return _fail(str(exc))
    except KeyDecryptionError as exc:
        raise ConfigurationError(f"TOKEN_SERVICE_KEY_ENCRYPTION_KEY: {exc}") from None
    finally:
        await engine.dispose()


def key_record(key: KeyInfo, now: int) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "state": key.state,
        "published": key.is_published(now),
        "created": iso_utc(key.created_at),
        "activates": iso_utc(key.activates_at),
        "activated": iso_utc(key.activated_at),
        "retired": iso_utc(key.retired_at),
        "removes": iso_utc(key.removes_at),
        "revoked": iso_utc(key.revoked_at),
    }


def cmd_keys_list(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def show(keys: KeyService) -> int:
        now = epoch_seconds(system_clock)
        records = [key_record(k, now) for k in await keys.list()]
        if args.json:
            print(json.dumps(records, indent=2))
        elif not records:
            print("no signing keys yet; the service creates the first when it starts")
        else:
            print("kid\tstate\tpublished\tcreated\tactivates\tretired\tremoves\trevoked")
            for r in records:
                columns = [r["kid"], r["state"], "yes" if r["published"] else "no"]
                columns += [r[name] or "-" for name in ("created", "activates", "retired", "removes", "revoked")]
                print("\t".join(columns))
        return 0

    return asyncio.run(_with_keys(settings, show))


def describe(step: Transition, settings: TokenServiceSettings, now: int) -> str:
    max_age = settings.jwks_max_age
    if isinstance(step, NewKey) and not step.active:
        return (
            f"new key {step.kid} is published now and starts signing at {iso_utc(step.activates_at)} "
            f"(in {step.activates_at - now} s, once every verifier's cached JWKS, max-age {max_age} s, holds it)"
        )
    if isinstance(step, NewKey):
        return (
            f"new key {step.kid} signs from now on (running instances switch within {KEY_POLL_SECONDS:g} s). "
            f"WARNING: verifiers holding a JWKS fetched before now do not know it and may reject new tokens "
            f"until their cache expires, up to TOKEN_SERVICE_JWKS_MAX_AGE = {max_age} s, unless they refetch on an unknown kid"
        )
    if isinstance(step, Activate):
        return f"key {step.kid} signs from now on (it was already published)"
    if isinstance(step, Retire) and step.removes_at <= now:
        return f"key {step.kid} never signed and is withdrawn from the JWKS now"
    if isinstance(step, Retire):
        return (
            f"key {step.kid} no longer signs; it stays in the JWKS until {iso_utc(step.removes_at)} "
            "so every token it signed can still be verified until it expires"
        )
    return (
        f"key {step.kid} is revoked and removed from the JWKS now; running instances stop serving it within "
        f"{KEY_POLL_SECONDS:g} s, and every verifier honouring our cache headers drops it within "
        f"TOKEN_SERVICE_JWKS_MAX_AGE = {max_age} s. Tokens it signed are rejected once verifiers drop it"
    )


def transition_record(step: Transition) -> dict[str, Any]:
    if isinstance(step, NewKey):
        return {"action": "activate" if step.active else "publish", "kid": step.kid, "activates": iso_utc(step.activates_at)}
    if isinstance(step, Retire):
        return {"action": "retire", "kid": step.kid, "removes": iso_utc(step.removes_at)}
    return {"action": "activate" if isinstance(step, Activate) else "revoke", "kid": step.kid}


def _report(steps: list[Transition], settings: TokenServiceSettings, now: int, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"changes": [transition_record(s) for s in steps], "jwks_max_age": settings.jwks_max_age}, indent=2))
        return 0
    for step in steps:
        # Warnings go to stderr so scripts reading stdout see only the facts.
        emergency = isinstance(step, NewKey) and step.active
        print(describe(step, settings, now), file=sys.stderr if emergency else sys.stdout)
    return 0


def _command(settings: TokenServiceSettings, args: argparse.Namespace, act: Callable[[KeyService, int], Awaitable[list[Transition]]]) -> int:
    async def run(keys: KeyService) -> int:
        now = epoch_seconds(system_clock)
        return _report(await act(keys, now), settings, now, getattr(args, "json", False))

    return asyncio.run(_with_keys(settings, run))


def cmd_keys_rotate(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    return _command(settings, args, lambda keys, now: keys.rotate(activate_now=args.activate_now, now=now))


def cmd_keys_retire(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    return _command(settings, args, lambda keys, now: keys.retire(args.kid, now=now))


def cmd_keys_revoke(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    return _command(settings, args, lambda keys, now: keys.revoke(args.kid, now=now))


# RFC 7638 thumbprints are base64url, so one in 64 starts with "-", which argparse
# would take for an option.
KID_HELP = "the key's kid as `keys list` shows it; write `-- KID` when it starts with '-'"


def register(keys: Any) -> None:
    """Adds the lifecycle commands to the `keys` subparsers of `token-service`."""

    def command(name: str, handler: Callable[[TokenServiceSettings, argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = keys.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(handler=handler)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        return parser

    command("list", cmd_keys_list, "list signing keys: kid, state, created, activates, retires/removes (UTC)")
    rotate = command("rotate", cmd_keys_rotate, "publish a new key now; it signs once verifiers' JWKS caches have seen it")
    rotate.add_argument(
        "--activate-now", action="store_true", help="emergency: sign with the new key at once (verifiers with a cached JWKS may fail)"
    )
    retire = command("retire", cmd_keys_retire, "stop signing with / withdraw a key; it stays published until its tokens expire")
    retire.add_argument("kid", help=KID_HELP)
    revoke = command("revoke", cmd_keys_revoke, "emergency: remove a key from the JWKS at once (a signing key is replaced)")
    revoke.add_argument("kid", help=KID_HELP)
