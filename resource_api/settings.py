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

    @field_validator("issuer", "audience")
    @classmethod
    def _must_be_http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def load_settings(**overrides: Any) -> ResourceApiSettings:
    """Settings from the environment (overrides win); ConfigurationError names what to fix."""
    try:
        return ResourceApiSettings(**overrides)
    except ValidationError as exc:
        raise configuration_error(exc, ENV_PREFIX, _FIXES) from None
