"""`token-service clients add|list|remove|hash-secret|keygen`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, OKPKey, RSAKey
from pydantic import ValidationError

from token_service.clients.metadata import AUTH_METHODS, ClientMetadata, InvalidClientMetadata, MetadataProblem, metadata_problems
from token_service.clients.documents import ClientDocumentRefused, ClientDocuments
from token_service.clients.models import Client
from token_service.clients.registry import ClientExistsError, ClientRegistry, config_clients
from token_service.clients.secrets import WeakSecretError, generate_client_secret, hash_client_secret
from token_service.clock import system_clock
from token_service.db.engine import create_engine, session_factory
from token_service.outbound import OutboundFetcher
from token_service.runtime import prepare_database
from token_service.status.cli import cmd_clients_remove, cmd_clients_revoke_tokens
from token_service.settings import TokenServiceSettings
from token_service.usage import UsageError

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
KEYGEN_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")


def problems_text(problems: list[MetadataProblem]) -> str:
    return "invalid client:\n  " + "\n  ".join(p.text for p in problems)


def validated_metadata(fields: dict[str, Any]) -> ClientMetadata:
    """The same model and messages as a `[[clients]]` entry in the TOML file."""
    try:
        return ClientMetadata.model_validate(fields)
    except ValidationError as exc:
        raise UsageError(problems_text(metadata_problems(exc))) from None


async def with_registry(settings: TokenServiceSettings, action: Callable[[ClientRegistry], Awaitable[int]], *, fetch_documents: bool = False) -> int:
    engine = create_engine(settings)
    fetcher = OutboundFetcher() if fetch_documents else None
    try:
        await prepare_database(engine, settings, migrate_now=False)
        documents = ClientDocuments.for_settings(fetcher, allow_private_urls=settings.allow_private_urls, clock=system_clock) if fetcher else None
        registry = ClientRegistry(
            session_factory(engine),
            config_clients(settings.clients),
            allow_private_urls=settings.allow_private_urls,
            documents=documents,
            unused_open_ttl=settings.open_registration_unused_ttl,
        )
        return await action(registry)
    finally:
        if fetcher is not None:
            await fetcher.aclose()
        await engine.dispose()


def _read_jwks_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--jwks-file: cannot read {path!r} ({exc.strerror})") from None
    except ValueError:
        raise UsageError(f"--jwks-file: {path!r} is not JSON; give the JWK Set printed by `token-service clients keygen`") from None


def cmd_clients_add(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    method = args.auth or ("none" if args.public else None)
    if method is None and (args.jwks_uri or args.jwks_file):
        method = "private_key_jwt"
    uses_secret = method in (None, "client_secret_basic", "client_secret_post")
    if args.secret and not uses_secret:
        raise UsageError(f"--secret does not go with --auth {method}; leave it out")
    secret = (args.secret or generate_client_secret()) if uses_secret else None
    if secret is not None:
        try:
            hash_client_secret(secret)
        except WeakSecretError as exc:
            raise UsageError(str(exc)) from None
    fields: dict[str, Any] = {
        "client_id": args.client_id or f"client-{generate_client_secret()[:12]}",
        "client_secret": secret,
        "token_endpoint_auth_method": method,
        "grant_types": list(dict.fromkeys(args.grant)),
        "redirect_uris": args.redirect_uri,
        "post_logout_redirect_uris": args.post_logout_redirect_uri,
        "scope": args.scope,
        "audience": args.audience,
        "resources": args.resource,
        "first_party": args.first_party,
        "client_name": args.name,
        "dpop_bound_access_tokens": args.dpop_bound,
        "jwks_uri": args.jwks_uri,
        "jwks": _read_jwks_file(args.jwks_file) if args.jwks_file else None,
    }
    if args.public:
        fields["public"] = True
    metadata = validated_metadata(fields)

    async def add(registry: ClientRegistry) -> int:
        try:
            await registry.add(metadata)
        except ClientExistsError as exc:
            raise UsageError(str(exc)) from None
        except InvalidClientMetadata as exc:
            raise UsageError(problems_text(exc.problems)) from None
        result: dict[str, Any] = {"client_id": metadata.client_id}
        if secret is not None:
            result["client_secret"] = secret
        elif metadata.auth_method == "none":
            result["client_secret"] = None  # kept for scripts that read the key of public clients
        print(json.dumps(result))
        return 0

    return asyncio.run(with_registry(settings, add))


def client_summary(c: Client) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "origin": c.source,
        "client_name": c.client_name,
        "token_endpoint_auth_method": c.auth_method,
        "grant_types": sorted(c.grant_types),
        "scope": c.scope_text,
        "audience": c.audience,
        "redirect_uris": list(c.redirect_uris),
        "jwks_uri": c.jwks_uri,
        "public": c.public,
        "first_party": c.first_party,
        # Kept for scripts written before `origin`: the same value.
        "source": c.source,
        "created_at": c.created_at,
        "last_used_at": c.last_used_at,
        "registered_openly": c.registered_openly,
    }


def cmd_clients_list(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def show(registry: ClientRegistry) -> int:
        clients = [c for c in await registry.list() if args.origin is None or c.source == args.origin]
        if args.json:
            print(json.dumps([client_summary(c) for c in clients], indent=2))
            return 0
        for c in clients:
            print(f"{c.client_id}\t{c.auth_method}\t{','.join(sorted(c.grant_types))}\tscope={c.scope_text!r}\taudience={c.audience}\t({c.source})")
        return 0

    return asyncio.run(with_registry(settings, show))


def cmd_clients_show(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def show(registry: ClientRegistry) -> int:
        # A metadata document client is not stored: `show` fetches and validates its document.
        try:
            client = await registry.find(args.client_id)
        except ClientDocumentRefused as exc:
            print(f"token-service: client {args.client_id!r}: its metadata document is refused: {exc.reason}", file=sys.stderr)
            return 1
        if client is None:
            print(f"token-service: no client {args.client_id!r}", file=sys.stderr)
            return 1
        details = {**client_summary(client), "post_logout_redirect_uris": list(client.post_logout_redirect_uris), "jwks": client.jwks,
                   "resources": sorted(client.resources), "dpop_bound_access_tokens": client.dpop_bound_access_tokens}
        print(json.dumps(details, indent=2))
        return 0

    return asyncio.run(with_registry(settings, show, fetch_documents=True))


def cmd_clients_hash_secret(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    secret = sys.stdin.readline().rstrip("\n")
    try:
        print(hash_client_secret(secret))
    except WeakSecretError as exc:
        raise UsageError(str(exc)) from None
    return 0


def generate_client_key(alg: str) -> RSAKey | ECKey | OKPKey:
    key: RSAKey | ECKey | OKPKey
    if alg in ("RS256", "PS256"):
        key = RSAKey.generate_key(3072, parameters={"alg": alg, "use": "sig"})
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", parameters={"alg": alg, "use": "sig"})
    else:
        key = OKPKey.generate_key("Ed25519", parameters={"alg": alg, "use": "sig"})
    key.ensure_kid()
    return key


def cmd_clients_keygen(settings: TokenServiceSettings | None, args: argparse.Namespace) -> int:
    key = generate_client_key(args.alg)
    path = Path(args.out)
    try:
        # O_EXCL: never overwrite a key a client may be using; 0600 from the start, not chmod after.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"--out: {str(path)!r} exists; choose a new path (a key in use must not be overwritten)") from None
    except OSError as exc:
        raise UsageError(f"--out: cannot create {str(path)!r} ({exc.strerror})") from None
    with os.fdopen(fd, "w") as handle:
        json.dump(key.as_dict(private=True), handle)
        handle.write("\n")
    print(json.dumps({"keys": [key.as_dict(private=False)]}, indent=2))
    print(f"private key written to {path} (mode 0600); register the key set above with --jwks-file or serve it at the client's jwks_uri", file=sys.stderr)
    return 0


def register(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    clients = sub.add_parser("clients", help="registered clients").add_subparsers(dest="clients_command", required=True)
    add = command("add", cmd_clients_add, "register a client; prints JSON with client_id (and a secret, shown once, for secret clients)", clients)
    add.add_argument("--grant", action="append", required=True, choices=GRANT_TYPES)
    add.add_argument("--auth", choices=AUTH_METHODS, help="token_endpoint_auth_method (default: client_secret_basic, or private_key_jwt with keys)")
    add.add_argument("--jwks-uri", help="https URL where the client publishes its public keys (private_key_jwt)")
    add.add_argument("--jwks-file", help="file with the client's public JWK Set, as printed by `clients keygen` (private_key_jwt)")
    add.add_argument("--redirect-uri", action="append", default=[])
    add.add_argument("--post-logout-redirect-uri", action="append", default=[])
    add.add_argument("--scope", default="")
    add.add_argument("--audience", help="default `aud` of its access tokens")
    add.add_argument("--resource", action="append", default=[], help="other audience it may request (RFC 8707)")
    add.add_argument("--public", action="store_true", help="a browser or native app without a secret (PKCE)")
    add.add_argument("--first-party", action="store_true", help="skip the consent page")
    add.add_argument("--client-id")
    add.add_argument("--name", help="client_name shown on the consent page")
    add.add_argument("--dpop-bound", action="store_true", help="dpop_bound_access_tokens: the client must use DPoP (RFC 9449)")
    add.add_argument("--secret", help="at least 32 characters; default: a generated 256-bit secret")
    lst = command("list", cmd_clients_list, "list clients with their origin (config, operator, dynamic)", clients)
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--origin", choices=("config", "operator", "dynamic"), help="only clients of this origin")
    show = command("show", cmd_clients_show, "print one client's registration as JSON (a metadata document client is fetched)", clients)
    show.add_argument("client_id")
    rm = command("remove", cmd_clients_remove, "revoke a client's tokens and remove it", clients)
    rm.add_argument("client_id")
    revoke = command("revoke-tokens", cmd_clients_revoke_tokens, "revoke every unexpired access and refresh token of a client", clients)
    revoke.add_argument("client_id")
    command("hash-secret", cmd_clients_hash_secret, "read a secret on stdin, print the hash for client_secret_hash", clients)
    keygen = command("keygen", cmd_clients_keygen, "write a new private JWK for a client (mode 0600) and print its public JWK Set", clients)
    keygen.add_argument("--out", required=True, help="file for the private key (must not exist)")
    keygen.add_argument("--alg", choices=KEYGEN_ALGORITHMS, default="ES256")
    keygen.set_defaults(needs_settings=False)
