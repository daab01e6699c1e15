"""`token-service resources add|list|remove`: the APIs tokens are issued for."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from token_service.db.engine import create_engine, session_factory
from token_service.resources.model import ResourceConfig
from token_service.resources.registry import ResourceExistsError, ResourceRegistry, config_resources
from token_service.runtime import prepare_database
from token_service.settings import TokenServiceSettings
from token_service.usage import UsageError, remove_registered


def validated_resource(fields: dict[str, Any]) -> ResourceConfig:
    """The same model and messages as a `[[resources]]` entry in the TOML file."""
    try:
        return ResourceConfig.model_validate(fields)
    except ValidationError as exc:
        lines = []
        for item in exc.errors():
            where = ".".join(str(p) for p in item["loc"]) or "resource"
            lines.append(f"{where}: {str(item['msg']).removeprefix('Value error, ')}")
        raise UsageError("invalid resource:\n  " + "\n  ".join(lines)) from None


def scopes_with_words(scope_text: str, descriptions: list[str]) -> list[dict[str, Any]]:
    """`--scope "a b"` and `--describe a="Read your notes"` as the model's scope entries."""
    names = scope_text.split()
    words: dict[str, str] = {}
    for item in descriptions:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--describe {item!r}: write it as SCOPE=TEXT, e.g. --describe 'notes:read=Read your notes'")
        if name.strip() not in names:
            raise UsageError(f"--describe {item!r}: scope {name.strip()!r} is not in --scope; add it there")
        words[name.strip()] = text
    return [{"name": name, "description": words.get(name)} for name in dict.fromkeys(names)]


async def with_registry(settings: TokenServiceSettings, action: Callable[[ResourceRegistry], Awaitable[int]]) -> int:
    engine = create_engine(settings)
    try:
        await prepare_database(engine, settings, migrate_now=False)
        return await action(ResourceRegistry(session_factory(engine), config_resources(settings.resources)))
    finally:
        await engine.dispose()


def cmd_resources_add(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    config = validated_resource({"identifier": args.identifier, "name": args.name, "scopes": scopes_with_words(args.scope, args.describe)})

    async def add(registry: ResourceRegistry) -> int:
        try:
            resource = await registry.add(config)
        except ResourceExistsError as exc:
            raise UsageError(str(exc)) from None
        print(json.dumps(resource.as_json()))
        return 0

    return asyncio.run(with_registry(settings, add))


def cmd_resources_list(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def show(registry: ResourceRegistry) -> int:
        resources = await registry.list()
        if args.json:
            print(json.dumps([r.as_json() for r in resources], indent=2))
            return 0
        for r in resources:
            print(f"{r.identifier}\tname={r.display_name!r}\tscopes={' '.join(sorted(r.scopes))!r}\t({r.source})")
        return 0

    return asyncio.run(with_registry(settings, show))


def cmd_resources_remove(settings: TokenServiceSettings, args: argparse.Namespace) -> int:
    async def remove(registry: ResourceRegistry) -> int:
        return await remove_registered("resource", args.identifier, (r.identifier for r in settings.resources), registry.remove)

    return asyncio.run(with_registry(settings, remove))


def register(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    resources = sub.add_parser("resources", help="APIs tokens are issued for (RFC 8707)").add_subparsers(dest="resources_command", required=True)
    add = command("add", cmd_resources_add, "register an API: its identifier is the `resource` clients send and the `aud` of its tokens", resources)
    add.add_argument("identifier", help="absolute URI without fragment, e.g. https://api.example.com")
    add.add_argument("--scope", default="", help='the scopes it offers, space-separated: "notes:read notes:write"')
    add.add_argument("--name", help="shown on the consent page (default: the identifier)")
    add.add_argument("--describe", action="append", default=[], metavar="SCOPE=TEXT", help="words the consent page shows for a scope")
    lst = command("list", cmd_resources_list, "list resources", resources)
    lst.add_argument("--json", action="store_true")
    rm = command("remove", cmd_resources_remove, "remove a resource", resources)
    rm.add_argument("identifier")
