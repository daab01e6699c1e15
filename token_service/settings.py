"""The token service's one validated settings object.

Read once at start-up (never at import time) from `TOKEN_SERVICE_*` environment
variables and an optional TOML file named by `TOKEN_SERVICE_CONFIG`; the environment
wins over the file. Every invalid value becomes a `ConfigurationError` whose message
names the variable and the fix, so a misnamed or missing variable stops start-up
instead of surfacing later as an unexplained 401.

A new setting is one field below, with its default, bounds and `description` (the
README's configuration reference is generated from it); `TOKEN_SERVICE_<NAME>` and the
TOML key `<name>` then work, and unknown-name detection knows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from token_service.configuration.errors import ConfigurationError
from token_service.configuration.key_timings import KeyTimings
from token_service.configuration.messages import describe_errors, unknown_variables
from token_service.configuration.sources import (
    CONFIG_ENV,
    ENV_PREFIX,
    EnvironmentSource,
    config_path,
    current_environment,
    read_config_file,
    reading,
    toml_file_source,
)
from token_service.configuration.tables import ClientConfig, GrantType, ResourceConfig, UpstreamConfig
from token_service.configuration.values import decode_kek, is_loopback_host, validate_issuer_url
from token_service.configuration.branding import DEFAULT_ACCENT_COLOR, DEFAULT_BRAND_NAME, AccentColor, BrandName, LogoUrl
from token_service.http.client_address import TrustedProxies

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_DATA_DIR",
    "ENV_PREFIX",
    "ClientConfig",
    "ConfigurationError",
    "GrantType",
    "ResourceConfig",
    "TokenServiceSettings",
    "UpstreamConfig",
    "decode_kek",
    "is_loopback_host",
    "load_settings",
    "read_config_file",
    "validate_issuer_url",
]

DEFAULT_DATA_DIR = Path(".token-service")


class TokenServiceSettings(BaseSettings):
    # Built by `load_settings` (sources: init arguments, environment, TOML file), so
    # nothing is read at import time and tests can pass their own environment.
    model_config = SettingsConfigDict(extra="forbid", validate_default=True, frozen=True)

    issuer: str = Field("http://127.0.0.1:8000", description="Exact `iss` of every token and the base of every endpoint URL; scheme, host and port only (no path).")
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the embedded SQLite database and generated key-encryption key live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; unset = SQLite in `data_dir`. Production: `postgresql+asyncpg://user@host/db`."
    )
    redis_url: str | None = Field(
        None, description="Redis for ephemeral state, shared by several hosts; unset = `ephemeral_store` on this host."
    )
    ephemeral_store: Literal["file", "memory"] = Field(
        "file",
        description="Without Redis: `file` keeps sign-ins, sessions, codes and rate limits in `data_dir/ephemeral.db` "
        "(SQLite, WAL), shared by every worker process on this host; `memory` keeps them in the process (one worker; `dev`).",
    )
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
    status_list_enabled: bool = Field(
        True, description="Give every access token a Token Status List entry (`status` claim), so revocation reaches every API within `status_list_ttl`."
    )
    status_list_ttl: int = Field(
        10, ge=1, le=3600, description="`ttl` and `Cache-Control: max-age` of status list tokens, seconds: the longest a revoked access token is still accepted by an API."
    )
    status_list_size: int = Field(
        1 << 20, ge=1024, le=1 << 24, description="Entries (bits) per status list before a new list is started; 1 M entries are 128 KiB uncompressed."
    )
    status_list_block: int = Field(
        1024, ge=16, le=65536, description="Status indices per reserved block; an instance keeps a block, or 2 s of its recent rate if more, reserved ahead, and tokens take them from memory."
    )
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
    dpop_nonce: bool = Field(False, description="DPoP proofs at the token endpoint must carry a nonce this service issued (RFC 9449 §8): clients retry once after `use_dpop_nonce`.")
    dpop_proof_max_age: int = Field(300, ge=10, le=3600, description="A DPoP proof is accepted this long after its `iat`, seconds (plus `leeway` both ways).")
    login_start_rate_limit_ip: str = Field(
        "120/minute",
        description="Sign-ins started per client IP: `/authorize` requests that open a login or consent page (empty disables).",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDRs of your reverse proxies. Only from these is `X-Forwarded-For` "
        "read (its right-most untrusted address is the client); empty = the header is ignored. Never `*`.",
    )
    memory_store_mb: int = Field(
        256, ge=1, le=65536, description="Size cap of the store without Redis (file or memory), MiB: half for browser sessions, "
        "a quarter for pending sign-ins, a quarter for codes and the rest.",
    )
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Serve `/metrics` only on this port (same host) and not on the main port; "
        "unset = `/metrics` on the main port. Set it whenever a proxy forwards the main port.",
    )
    http_header_timeout: float = Field(
        10.0, gt=0, le=300, description="`serve` closes a connection whose request line and headers take longer than this, seconds."
    )
    http_body_timeout: float = Field(30.0, gt=0, le=3600, description="`serve` closes a connection whose request body takes longer than this, seconds.")
    http_max_concurrency: int = Field(
        1000, ge=1, description="`serve` answers 503 beyond this many open connections or running requests per worker."
    )
    host: str = Field("127.0.0.1", description="Interface `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    allow_private_urls: bool = Field(
        False,
        description="Let the service fetch client `jwks_uri` (and client metadata documents) from loopback/private "
        "addresses and over plain http. For development only (`dev` sets it); never with untrusted clients.",
    )
    open_registration: bool = Field(
        False,
        description="Let anyone register a public client (`token_endpoint_auth_method` none; a request for a secret is answered with a public client) at `/register` without an initial "
        "access token (RFC 7591; what MCP clients expect). Off: registration needs an access token with scope `clients:register`.",
    )
    registration_rate_limit: str = Field("30/minute", description="Client registrations allowed per client IP at `/register` (`limits` syntax; empty disables).")
    open_registration_unused_ttl: int = Field(
        86400, ge=60, description="A client registered openly (without an initial access token) that obtains no token within this many seconds is removed."
    )
    log_format: Literal["json", "console"] = Field("json", description="`json` for production, `console` for people.")
    brand_name: BrandName = Field(DEFAULT_BRAND_NAME, description="Product name on the sign-in, consent and error pages.")
    brand_logo_url: LogoUrl = Field(None, description="Logo shown above the product name: an https URL (http only on loopback); unset = no logo.")
    brand_accent_color: AccentColor = Field(
        DEFAULT_ACCENT_COLOR,
        description="Colour of buttons and links, `#rrggbb`; a colour under 4.5:1 contrast on white is darkened until it reaches it.",
    )
    clients: list[ClientConfig] = Field(default_factory=list, description="Clients declared in the TOML file.")
    upstreams: list[UpstreamConfig] = Field(default_factory=list, description="Login providers, TOML file only.")
    resources: list[ResourceConfig] = Field(
        default_factory=list, description="APIs tokens are issued for (RFC 8707 resources), TOML file only; see README \"Resources (APIs)\"."
    )

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

    @field_validator("login_rate_limit_ip", "login_rate_limit_username", "token_rate_limit", "login_start_rate_limit_ip", "registration_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        if value.strip():
            try:
                parse(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a rate limit; write it like `30/minute` or `10 per 5 minutes`") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        TrustedProxies.parse(value)
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
        for client in self.clients:
            problem = client.jwks_uri_problem(allow_private=self.allow_private_urls)
            if problem is not None:
                raise ValueError(f"[[clients]] {client.client_id!r}: {problem.text}")
        ids = [c.client_id for c in self.clients]
        if len(ids) != len(set(ids)):
            raise ValueError("two [[clients]] entries share a client_id")
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(
                f"TOKEN_SERVICE_METRICS_PORT equals TOKEN_SERVICE_PORT ({self.port}); give metrics their own port, or unset it"
            )
        identifiers = [r.identifier for r in self.resources]
        if len(identifiers) != len(set(identifiers)):
            raise ValueError("two [[resources]] entries share an identifier")
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = current_environment()
        # Earlier sources win: arguments, then the environment, then the file.
        return init_settings, EnvironmentSource(settings_cls, environ), toml_file_source(settings_cls, environ)

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url and self.database_url.startswith("postgresql"))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'token-service.db').as_posix()}"

    @property
    def ephemeral_store_file(self) -> Path:
        return self.data_dir / "ephemeral.db"

    @property
    def shares_ephemeral_state(self) -> bool:
        """Whether worker processes see each other's sign-ins, codes and limits."""
        return self.redis_url is not None or self.ephemeral_store == "file"

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None

    @property
    def https(self) -> bool:
        return self.issuer.startswith("https://")

    def endpoint(self, path: str) -> str:
        return self.issuer.rstrip("/") + path


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> TokenServiceSettings:
    """Validate the whole configuration or raise `ConfigurationError` listing every problem.

    `environ` replaces os.environ (tests, tools); `overrides` win over both sources.
    """
    with reading(environ) as env:
        problems = unknown_variables(env, TokenServiceSettings.model_fields)
        try:
            settings = TokenServiceSettings(**overrides)
        except ValidationError as exc:
            lines = describe_errors(exc, config_path(env), TokenServiceSettings.model_fields) + problems
            raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    if problems:
        raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(problems))
    return settings
