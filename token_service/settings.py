"""The token service's one validated settings object.

Read once at start-up (never at import time) from `TOKEN_SERVICE_*` environment
variables and an optional TOML file named by `TOKEN_SERVICE_CONFIG`; the environment
wins over the file. Every invalid value becomes a `ConfigurationError` whose message
names the variable and the fix, so a misnamed or missing variable stops start-up
instead of surfacing later as an unexplained 401.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from token_service.keys.lifecycle import KeyTimings

ENV_PREFIX = "TOKEN_SERVICE_"
CONFIG_ENV = "TOKEN_SERVICE_CONFIG"
DEFAULT_DATA_DIR = Path(".token-service")


class ConfigurationError(Exception):
    """Start-up cannot continue; the message names the setting and the fix (exit 2)."""


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_issuer_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{value!r} is not an absolute http(s) URL; set it to the base URL clients use, e.g. https://auth.example.com"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} has a query or fragment, which an issuer must not have (OpenID Connect Discovery §3)")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{value!r} uses http on a non-loopback host; tokens and codes would cross the network in clear text. "
            "Use https (behind your TLS proxy), or http://127.0.0.1:PORT for local development"
        )
    return value


class UpstreamConfig(BaseModel):
    """A login provider (`[[upstreams]]` in the TOML file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    kind: Literal["oidc", "github", "password"]
    display_name: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "PS256", "EdDSA"])
    # GitHub endpoints are settings so tests can point them at a local stand-in.
    authorize_url: str | None = None
    token_url: str | None = None
    api_url: str | None = None
    verifies_email: bool = False

    @model_validator(mode="after")
    def _check_kind_fields(self) -> UpstreamConfig:
        if self.kind == "oidc" and not (self.issuer and self.client_id):
            raise ValueError(f"upstream {self.name!r} (kind oidc) needs `issuer` and `client_id`")
        if self.kind == "github" and not (self.client_id and self.client_secret):
            raise ValueError(f"upstream {self.name!r} (kind github) needs `client_id` and `client_secret`")
        if self.kind == "oidc" and self.issuer:
            validate_issuer_url(self.issuer)
        for alg in self.algorithms:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                raise ValueError(f"upstream {self.name!r}: algorithm {alg!r} is not allowed for ID tokens (RFC 8725 §3.1)")
        return self


GrantType = Literal["client_credentials", "authorization_code", "refresh_token"]


class ClientConfig(BaseModel):
    """A client declared in the TOML file (`[[clients]]`); same fields as `clients add`."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr | None = None
    client_secret_hash: str | None = None
    grant_types: list[GrantType] = Field(default_factory=lambda: list[GrantType](["client_credentials"]))
    scope: str = ""
    audience: str | None = None
    resources: list[str] = Field(default_factory=list)
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    public: bool = False
    first_party: bool = False

    @model_validator(mode="after")
    def _check_secret(self) -> ClientConfig:
        if self.public and (self.client_secret or self.client_secret_hash):
            raise ValueError(f"client {self.client_id!r} is public and must not have a secret")
        if not self.public and not (self.client_secret or self.client_secret_hash):
            raise ValueError(f"client {self.client_id!r} is confidential: give `client_secret` or `client_secret_hash`")
        if self.client_secret is not None and len(self.client_secret.get_secret_value()) < 32:
            raise ValueError(f"client {self.client_id!r}: client_secret must be at least 32 characters")
        return self


class TokenServiceSettings(BaseModel):
    # Built by `load_settings` from an explicit environment mapping and the TOML file,
    # so nothing is read at import time and tests can pass their own environment.
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    issuer: str = Field("http://127.0.0.1:8000", description="Exact `iss` of every token and the base of every endpoint URL; scheme, host and port only (no path).")
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the embedded SQLite database and generated key-encryption key live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; unset = SQLite in `data_dir`. Production: `postgresql+asyncpg://user@host/db`."
    )
    redis_url: str | None = Field(None, description="Redis for ephemeral state; unset = in-process store (one instance only).")
    redis_prefix: str = Field("token-service:", description="Prefix of every Redis key, so several deployments can share a server.")
    key_encryption_key: SecretStr | None = Field(
        None,
        description="32 random bytes, base64url, that encrypt signing keys at rest. Required on PostgreSQL; "
        "on SQLite a key file is generated in `data_dir`. Create one with `token-service keys new-kek`.",
    )
    key_size: int = Field(2048, ge=2048, le=8192, description="RSA modulus size of new signing keys, in bits.")
    access_token_ttl: int = Field(600, ge=30, le=86400, description="Lifetime of access tokens, seconds.")
    id_token_ttl: int = Field(600, ge=30, le=86400, description="Lifetime of ID tokens, seconds.")
    authorization_code_ttl: int = Field(60, ge=10, le=600, description="Lifetime of authorization codes, seconds.")
    refresh_token_ttl: int = Field(30 * 86400, ge=300, description="Absolute lifetime of a refresh token family, seconds.")
    refresh_token_idle_ttl: int = Field(7 * 86400, ge=300, description="A refresh token unused this long expires, seconds.")
    refresh_token_grace: int = Field(
        10, ge=0, le=120, description="Seconds during which the immediate predecessor of a rotated refresh token still returns the same new pair."
    )
    session_ttl: int = Field(8 * 3600, ge=60, description="Absolute lifetime of a browser session, seconds.")
    session_idle_ttl: int = Field(3600, ge=60, description="A browser session unused this long ends, seconds.")
    jwks_max_age: int = Field(300, ge=0, le=86400, description="`Cache-Control: max-age` of the JWKS, seconds.")
    leeway: int = Field(30, ge=0, le=300, description="Clock-skew allowance when checking times, seconds.")
    key_rotation_period: int = Field(
        90 * 86400, ge=0, description="A signing key signs this long before the next one takes over, seconds; 0 = rotate only by hand."
    )
    key_prepublish_seconds: int = Field(
        900, ge=0, description="A new key is in the JWKS this long before it signs; at least jwks_max_age + key_publish_margin."
    )
    key_publish_margin: int = Field(
        60, ge=10, le=3600, description="Slack on top of jwks_max_age for instances picking up key changes and clock skew, seconds."
    )
    link_accounts_by_email: bool = Field(
        False, description="Link a login to an existing user with the same e-mail when both upstreams verify e-mail."
    )
    login_rate_limit_ip: str = Field("30/minute", description="Password attempts allowed per client IP (`limits` syntax; empty disables).")
    login_rate_limit_username: str = Field("10 per 5 minutes", description="Password attempts allowed per username.")
    token_rate_limit: str = Field("", description="Token requests allowed per client, e.g. `100/second` (empty: no limit).")
    host: str = Field("127.0.0.1", description="Interface `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    log_format: Literal["json", "console"] = Field("json", description="`json` for production, `console` for people.")
    clients: list[ClientConfig] = Field(default_factory=list, description="Clients declared in the TOML file.")
    upstreams: list[UpstreamConfig] = Field(default_factory=list, description="Login providers, TOML file only.")

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        validate_issuer_url(value)
        # Our routes, discovery documents and cookie paths live at the root of the host; an
        # issuer with a path would advertise URLs that answer 404, so it is refused outright.
        if urlsplit(value).path not in ("", "/"):
            raise ValueError(
                f"{value!r} has a path; the token service must be served at the root of its host. "
                "Behind a proxy, give it its own host name (e.g. https://auth.example.com) instead of a path prefix"
            )
        return value

    @field_validator("login_rate_limit_ip", "login_rate_limit_username", "token_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        if value.strip():
            try:
                parse(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a rate limit; write it like `30/minute` or `10 per 5 minutes`") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError(
                f"unsupported database URL scheme in {value.split('://')[0]!r}; use postgresql+asyncpg://user@host/db "
                "or sqlite+aiosqlite:///path/to/file.db"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a Redis URL; use redis://host:6379/0 or rediss:// for TLS")
        return value

    @field_validator("key_encryption_key")
    @classmethod
    def _kek(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_kek(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> TokenServiceSettings:
        if self.uses_postgres and self.key_encryption_key is None:
            raise ValueError(
                "TOKEN_SERVICE_KEY_ENCRYPTION_KEY is required with PostgreSQL: set it to 32 random bytes "
                "in base64url (create one with `token-service keys new-kek`) and keep it out of the database backups"
            )
        ids = [c.client_id for c in self.clients]
        if len(ids) != len(set(ids)):
            raise ValueError("two [[clients]] entries share a client_id")
        names = [u.name for u in self.upstreams]
        if len(names) != len(set(names)):
            raise ValueError("two [[upstreams]] entries share a name")
        return self

    @model_validator(mode="after")
    def _key_timings(self) -> TokenServiceSettings:
        problems = KeyTimings.from_settings(self).problems()
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url and self.database_url.startswith("postgresql"))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'token-service.db').as_posix()}"

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None

    @property
    def https(self) -> bool:
        return self.issuer.startswith("https://")

    def endpoint(self, path: str) -> str:
        return self.issuer.rstrip("/") + path


def decode_kek(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("key_encryption_key is not valid base64url; create one with `token-service keys new-kek`") from None
    if len(raw) != 32:
        raise ValueError(f"key_encryption_key decodes to {len(raw)} bytes, expected 32; create one with `token-service keys new-kek`")
    return raw


def _variable(loc: tuple[int | str, ...], config_path: str | None) -> str:
    if not loc:
        return "configuration"
    head = str(loc[0])
    if head in ("clients", "upstreams"):
        where = f"[[{head}]] #{int(loc[1]) + 1}" if len(loc) > 1 and isinstance(loc[1], int) else f"[[{head}]]"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{where}{' ' + rest if rest else ''} in {config_path or 'the config file'}"
    return f"{ENV_PREFIX}{head.upper()}" + (f" (or `{head}` in {config_path})" if config_path else "")


def _format_errors(error: ValidationError, config_path: str | None) -> str:
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown setting {loc[-1]!r}"
            known = list(TokenServiceSettings.model_fields) if len(loc) == 1 else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        if not loc:
            lines.append(message)
        else:
            lines.append(f"{_variable(loc, config_path)}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _unknown_env(environ: Mapping[str, str]) -> list[str]:
    toml_only = {"clients", "upstreams"}
    known = {f"{ENV_PREFIX}{name.upper()}" for name in TokenServiceSettings.model_fields if name not in toml_only}
    known.add(CONFIG_ENV)
    problems = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{name}: not a setting of the token service{hint} (it would be ignored silently)")
    return problems


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


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> TokenServiceSettings:
    """Validate the whole configuration or raise `ConfigurationError` listing every problem."""
    env = dict(os.environ if environ is None else environ)
    problems = _unknown_env(env)
    config_path = env.get(CONFIG_ENV) or None
    file_data = read_config_file(config_path) if config_path else {}
    # Environment beats the file: drop file keys that the environment sets.
    for name in list(file_data):
        if f"{ENV_PREFIX}{name.upper()}" in env:
            del file_data[name]
    try:
        settings = _build(env, file_data)
        if overrides:
            settings = TokenServiceSettings(**{**settings.model_dump(), **overrides})
    except ValidationError as exc:
        text = _format_errors(exc, config_path)
        if problems:
            text += "\n  " + "\n  ".join(problems)
        raise ConfigurationError(text) from None
    if problems:
        raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(problems))
    return settings


def _build(env: Mapping[str, str], data: dict[str, Any]) -> TokenServiceSettings:
    for name in TokenServiceSettings.model_fields:
        value = env.get(f"{ENV_PREFIX}{name.upper()}")
        if value is not None and name not in ("clients", "upstreams"):
            data[name] = value
    return TokenServiceSettings(**data)
