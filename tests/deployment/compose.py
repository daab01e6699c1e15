"""Reading docker-compose.yml the way `docker compose` does, for tests without a Docker engine.

Only what our compose file uses: YAML merge keys, `${VAR}`, `${VAR:?message}`,
`${VAR:-default}`, `$$`, `env_file` and `environment` (environment wins, as in Compose).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:\?|:-|\?|-)(?P<arg>[^}]*))?\})")


class MissingVariable(Exception):
    pass


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if name is None:
            return "$"
        current = variables.get(name)
        if op in (":?", "?") and not current:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and not current:
            return arg or ""
        return current or ""

    return _VARIABLE.sub(replace, value)


def variables_in(value: str) -> set[str]:
    return {m.group("name") for m in _VARIABLE.finditer(value) if m.group("name")}


def service_environment(service: dict[str, Any], env_file: Path) -> dict[str, str]:
    """The container environment Compose would give `service`, with `.env` replaced by `env_file`
    both for interpolation and for `env_file:` (Compose reads `.env` for both)."""
    variables = read_env_file(env_file)
    environment: dict[str, str] = {}
    files = service.get("env_file", [])
    for name in [files] if isinstance(files, str) else files:
        assert name == ".env", f"unexpected env_file {name!r}"
        environment.update(variables)
    declared = service.get("environment", {})
    assert isinstance(declared, dict), "environment must be a mapping"
    for key, value in declared.items():
        environment[key] = interpolate(str(value), variables)
    return environment


def all_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*all_strings(key), *all_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    return []


def final_stage_user(dockerfile: str) -> str | None:
    """The last USER instruction of the last stage (None when that stage has none: root)."""
    stages = re.split(r"(?im)^FROM\s", dockerfile)
    users = re.findall(r"(?im)^USER\s+(\S+)", stages[-1])
    return users[-1] if users else None
