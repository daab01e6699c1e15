"""Configuration problems in words: the variable (or TOML entry), what is wrong, the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from .sources import CONFIG_ENV, ENV_PREFIX, TOML_ONLY, variable_name

__all__ = ["describe_errors", "unknown_variables"]


def _where(loc: tuple[int | str, ...], config_path: str | None) -> str:
    if not loc:
        return "configuration"
    head = str(loc[0])
    if head in TOML_ONLY:
        where = f"[[{head}]] #{int(loc[1]) + 1}" if len(loc) > 1 and isinstance(loc[1], int) else f"[[{head}]]"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{where}{' ' + rest if rest else ''} in {config_path or 'the config file'}"
    return variable_name(head) + (f" (or `{head}` in {config_path})" if config_path else "")


def describe_errors(error: ValidationError, config_path: str | None, field_names: Iterable[str]) -> list[str]:
    """One line per problem; an unknown TOML key gets the closest setting name as a suggestion."""
    known = list(field_names)
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown setting {loc[-1]!r}"
            close = difflib.get_close_matches(str(loc[-1]), known if len(loc) == 1 else [], n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        lines.append(f"{_where(loc, config_path)}: {message}" if loc else message)
    return lines


def unknown_variables(environ: Mapping[str, str], field_names: Iterable[str]) -> list[str]:
    """`TOKEN_SERVICE_*` variables that name no setting: each would be ignored silently."""
    known = {variable_name(name) for name in field_names if name not in TOML_ONLY}
    known.add(CONFIG_ENV)
    problems = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{name}: not a setting of the token service{hint} (it would be ignored silently)")
    return problems
