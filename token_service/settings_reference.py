"""The README's configuration reference, generated from the settings classes.

`uv run python -m token_service.settings_reference --write README.md` refreshes the
table between its markers; a test fails when the README is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from resource_api.settings import ResourceApiSettings
from token_service.settings import ENV_PREFIX, TokenServiceSettings

START = "<!-- settings-reference:start -->"
END = "<!-- settings-reference:end -->"
TOML_ONLY = {"clients", "resources", "upstreams"}


def _default(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if value == []:
        return "none"
    return f"`{value}`"


def _description(model: type[BaseModel], name: str) -> str:
    text = model.model_fields[name].description or ""
    return text.replace("|", "\\|").replace("\n", " ")


def render_reference() -> str:
    lines = [
        "#### Token service (`TOKEN_SERVICE_*`, or the same key in lower case in the TOML file)",
        "",
        "| Variable | Default | Meaning |",
        "| --- | --- | --- |",
    ]
    for name in TokenServiceSettings.model_fields:
        variable = f"`[[{name}]]` (TOML only)" if name in TOML_ONLY else f"`{ENV_PREFIX}{name.upper()}`"
        lines.append(f"| {variable} | {_default(TokenServiceSettings, name)} | {_description(TokenServiceSettings, name)} |")
    lines += [
        "",
        "#### Resource API (`RESOURCE_API_*`)",
        "",
        "| Variable | Default | Meaning |",
        "| --- | --- | --- |",
    ]
    for name in ResourceApiSettings.model_fields:
        lines.append(f"| `RESOURCE_API_{name.upper()}` | {_default(ResourceApiSettings, name)} | {_description(ResourceApiSettings, name)} |")
    return "\n".join(lines)


def replace_section(text: str, reference: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{reference}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="update this file between the markers")
    args = parser.parse_args()
    reference = render_reference()
    if args.write is None:
        print(reference)
        return 0
    args.write.write_text(replace_section(args.write.read_text(), reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
