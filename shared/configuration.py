"""Start-up configuration errors that name the setting and the fix."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

__all__ = ["ConfigurationError", "configuration_error"]


class ConfigurationError(Exception):
    """Settings are missing or invalid; the message says which variable and how to fix it.

    Command lines exit with status 2 on this error.
    """

    def __init__(self, message: str, *, variables: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.variables = variables


def configuration_error(exc: ValidationError, env_prefix: str, fixes: Mapping[str, str] | None = None) -> ConfigurationError:
    """Turn a pydantic-settings ValidationError into one message per environment variable.

    `fixes` maps a field name to advice for it (an example value, what it is for).
    """
    fixes = fixes or {}
    lines: list[str] = []
    variables: list[str] = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        variable = f"{env_prefix}{field.upper()}"
        variables.append(variable)
        problem = "is not set" if error["type"] == "missing" else f"is invalid: {error['msg'].removeprefix('Value error, ')}"
        advice = fixes.get(field, "")
        lines.append(f"{variable} {problem}" + (f"; {advice}" if advice else ""))
    return ConfigurationError("\n".join(lines), variables=tuple(variables))
