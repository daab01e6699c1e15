"""Configuration of the example resource API: environment variables `RESOURCE_API_*`.

Read once, by `load_settings()`, when a command starts; never at import time.
"""

from __future__ import annotations

from typing import Literal, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.configuration import ConfigurationError, configuration_error

__all__ = ["ENV_PREFIX", "ConfigurationError", "ResourceApiSettings", "load_settings"]

ENV_PREFIX = "RESOURCE_API_"

_FIXES = {
    "issuer": (
        "set it to the token service's issuer URL exactly as tokens carry it in 'iss', "
        "e.g. RESOURCE_API_ISSUER=http://127.0.0.1:8000 (`token-service dev` sets it for you)"
    ),
    "audience": "set it to this API's own base URL, e.g. RESOURCE_API_AUDIENCE=http://127.0.0.1:8001",
    "port": "use a TCP port number from 1 to 65535",
    "leeway": "use a number of seconds from 0 to 300",
    "public_url": "set it to the URL clients use to reach this API, e.g. RESOURCE_API_PUBLIC_URL=https://api.example.com",
    "redis_url": "e.g. RESOURCE_API_REDIS_URL=redis://127.0.0.1:6379/0",
    "mcp_resource": "set it to the URL MCP clients use for the endpoint, e.g. RESOURCE_API_MCP_RESOURCE=https://api.example.com/mcp",
}


class ResourceApiSettings(BaseSettings):
    # Attribute docstrings become field descriptions: the README's reference is built from them.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", use_attribute_docstrings=True)

    issuer: str
    """The token service whose access tokens this API accepts; compared exactly with `iss`."""
    audience: str = "http://127.0.0.1:8001"
    """This API's identifier in the tokens' `aud`: by default its own base URL."""
    database_url: str = "sqlite+aiosqlite:///./.resource-api/notes.db"
    """SQLAlchemy URL of the notes database."""
    host: str = "127.0.0.1"
    """Interface `serve` listens on."""
    port: int = Field(default=8001, ge=1, le=65535)
    """Port `serve` listens on."""
    leeway: float = Field(default=30, ge=0, le=300)
    """Allowed clock difference with the issuer, in seconds."""
    jwks_min_ttl: float = Field(default=60, gt=0, le=86400)
    """Shortest time the JWKS is cached even when the issuer announces less; keep it at or below the issuer's max-age, so a pre-published key is always seen before it signs."""
    jwks_retry_seconds: float = Field(default=2, gt=0)
    """How long to wait before asking an unreachable issuer for its keys again."""
    log_format: Literal["json", "console"] = "json"
    """`json` lines for production, `console` for people; secrets and JWTs are redacted either way."""
    demo_client_id: str = "demo-spa"
    """The public client the demo page at / signs in with (registered at the token service)."""
    require_dpop: bool = False
    """Accept only DPoP-bound access tokens (RFC 9449): bearer tokens are refused with 401."""
    public_url: str | None = None
    """External base URL of this API, as clients call it: DPoP proofs' `htu` must name it. Unset: the origin of RESOURCE_API_AUDIENCE. Set it behind a proxy that changes scheme, host or path prefix; the Host header is never trusted for this."""
    redis_url: str | None = None
    """Redis that remembers used DPoP proofs, shared by every instance of this API; unset: each process remembers its own (one instance only)."""
    redis_prefix: str = "resource-api:"
    """Prefix of this API's keys in that Redis."""
    check_token_status: bool = True
    """Check the `status` claim of access tokens against the issuer's Token Status List, so a revoked token is refused within the list's `ttl`."""
    status_list_max_stale: float = Field(default=60, ge=0, le=86400)
    """How long past its `ttl` a status list is still used while the issuer cannot be reached, seconds; after that, tokens pointing at it are refused (401, "status could not be checked")."""
    status_list_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    """Largest status list accepted, in bytes once decompressed (1 M tokens take 128 KiB); a bigger one is refused like an invalid one."""
    mcp_resource: str | None = None
    """Identifier of the MCP endpoint at /mcp: the `resource` MCP clients ask tokens for (RFC 8707) and name in its protected resource metadata. Tokens whose `aud` is this or RESOURCE_API_AUDIENCE are accepted there. Unset: RESOURCE_API_PUBLIC_URL (else the audience's origin) followed by /mcp."""

    @field_validator("issuer", "audience")
    @classmethod
    def _must_be_http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("public_url", "mcp_resource")
    @classmethod
    def _public_url_is_http_url(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith(("https://", "http://")) or "?" in value or "#" in value):
            raise ValueError("must be an http:// or https:// URL without query or fragment")
        return value

    @property
    def mcp_resource_identifier(self) -> str:
        """The MCP endpoint's resource identifier: RESOURCE_API_MCP_RESOURCE, else the public URL + /mcp."""
        return self.mcp_resource or self.dpop_public_url.rstrip("/") + "/mcp"

    @property
    def dpop_public_url(self) -> str:
        """Where proofs point: RESOURCE_API_PUBLIC_URL, else the audience's origin."""
        if self.public_url is not None:
            return self.public_url
        scheme, _, rest = self.audience.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


def load_settings(**overrides: Any) -> ResourceApiSettings:
    """Settings from the environment (overrides win); ConfigurationError names what to fix."""
    try:
        return ResourceApiSettings(**overrides)
    except ValidationError as exc:
        raise configuration_error(exc, ENV_PREFIX, _FIXES) from None
