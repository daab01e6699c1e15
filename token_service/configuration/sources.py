"""Where setting values come from: `TOKEN_SERVICE_*` variables, then the TOML file.

Both are pydantic-settings sources, ordered by `TokenServiceSettings.settings_customise_sources`
(init arguments, then the environment, then the file: the first that has a value wins).
The environment is `os.environ` unless `load_settings` was handed a mapping (tests,
tools), which `reading` makes the one every source reads for that call.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from .errors import ConfigurationError

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "TOML_ONLY",
    "EnvironmentSource",
    "config_path",
    "current_environment",
    "reading",
    "read_config_file",
    "toml_file_source",
    "variable_name",
]

ENV_PREFIX = "TOKEN_SERVICE_"
CONFIG_ENV = "TOKEN_SERVICE_CONFIG"
TOML_ONLY = frozenset({"clients", "resources", "upstreams"})
"""Tables only the TOML file can give; a variable of that name is an unknown setting."""

_environment: ContextVar[Mapping[str, str] | None] = ContextVar("token_service_environment", default=None)


@contextmanager
def reading(environ: Mapping[str, str] | None) -> Iterator[Mapping[str, str]]:
    """Make `environ` (None: os.environ) the environment settings are read from, for this call."""
    env = os.environ if environ is None else environ
    token = _environment.set(env)
    try:
        yield env
    finally:
        _environment.reset(token)


def current_environment() -> Mapping[str, str]:
    env = _environment.get()
    return os.environ if env is None else env


def variable_name(field_name: str) -> str:
    return f"{ENV_PREFIX}{field_name.upper()}"


def config_path(env: Mapping[str, str]) -> str | None:
    return env.get(CONFIG_ENV) or None


class EnvironmentSource(PydanticBaseSettingsSource):
    """`TOKEN_SERVICE_<FIELD>` exactly as written (upper case), as text for pydantic to parse."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in TOML_ONLY:
            return None, field_name, False
        return self._environ.get(variable_name(field_name)), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                values[name] = value
        return values


def read_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(
            f"invalid configuration:\n  {CONFIG_ENV}: cannot read {path!r} ({exc.strerror}); fix the path or unset {CONFIG_ENV}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"invalid configuration:\n  {CONFIG_ENV}: {path!r} is not valid TOML: {exc}") from None
    return data


def toml_file_source(settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> InitSettingsSource:
    """The file named by TOKEN_SERVICE_CONFIG (none: no values), read with our own error messages."""
    path = config_path(environ)
    return InitSettingsSource(settings_cls, read_config_file(path) if path else {})
