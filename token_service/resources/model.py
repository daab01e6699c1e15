"""A resource (an API, a resource server): what tokens can be issued for (RFC 8707).

One model validates a resource wherever it comes from: the TOML `[[resources]]` table and
`token-service resources add`. Its `identifier` is the `resource` a client sends and the
`aud` of the tokens issued for it; its `scopes` are what it offers, each with the words the
consent page shows.

```toml
[[resources]]
identifier = "http://127.0.0.1:8001"
name = "Notes API"
scopes = ["notes:read", { name = "notes:write", description = "Add notes for you" }]
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from token_service.db.models import ResourceRow

MAX_IDENTIFIER_LENGTH = 2048
# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r'^[\x21\x23-\x5b\x5d-\x7e]+$')

# Scopes of OpenID Connect (OIDC Core §5.4, §11): they are about the user's account at this
# service (ID token, UserInfo), never about an API, so every resource request may carry them.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})


# Cached: every token request checks its target again, and the same few identifiers come
# back on every request (a URL parse per token is about 1 % of a client_credentials token's
# CPU). Bounded, so a stream of made-up identifiers only evicts.
@lru_cache(maxsize=1024)
def resource_uri_problem(value: str) -> str | None:
    """Why `value` cannot be a resource indicator (RFC 8707 §2), or None."""
    # Quoted and cut, as every echoed request value is (a 60 KB value must not fill errors and logs).
    shown = repr(value) if len(value) <= 200 else f"{value[:200]!r}... ({len(value)} characters)"
    if len(value) > MAX_IDENTIFIER_LENGTH:
        return f"{shown} is longer than {MAX_IDENTIFIER_LENGTH} characters"
    if any(c.isspace() for c in value):
        return f"{shown} contains white space; give an absolute URI such as https://api.example.com"
    if not _SCHEME.match(value):
        return f"{shown} is not an absolute URI; give one with a scheme, such as https://api.example.com (RFC 8707 §2)"
    if "#" in value:
        return f"{shown} has a fragment; remove the part from '#' on (RFC 8707 §2)"
    parts = urlsplit(value)
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        return f"{shown} has no host"
    return None


class ScopeConfig(BaseModel):
    """A scope a resource offers, with the words the consent page shows for it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    description: str | None = Field(None, max_length=300)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SCOPE_TOKEN.match(value):
            raise ValueError(f"scope {value[:200]!r} must be one word of printable characters without quotes or backslashes (RFC 6749 §3.3)")
        if value in OIDC_SCOPES:
            raise ValueError(f"scope {value!r} is an OpenID Connect scope of this service, not of an API; remove it")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class ResourceConfig(BaseModel):
    """A resource as registered: `[[resources]]` in the TOML file or `resources add`."""

    model_config = ConfigDict(extra="forbid")

    identifier: str
    name: str | None = Field(None, max_length=200)
    scopes: list[ScopeConfig] = Field(default_factory=list)

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, value: str) -> str:
        problem = resource_uri_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("scopes", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        # `scopes = ["notes:read", {name = "notes:write", description = "..."}]`: a bare name is a scope without words.
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, value: list[ScopeConfig]) -> list[ScopeConfig]:
        names = [scope.name for scope in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"scope {', '.join(repeated)} is listed more than once")
        return value


@dataclass(frozen=True)
class Resource:
    """A registered resource as the rest of the service sees it (immutable)."""

    identifier: str
    name: str | None
    scopes: dict[str, str | None]  # scope -> description shown on consent (None: its name is shown)
    source: str  # "database" or "config"

    @property
    def display_name(self) -> str:
        return self.name or self.identifier

    @property
    def scope_names(self) -> frozenset[str]:
        return frozenset(self.scopes)

    @classmethod
    def from_config(cls, config: ResourceConfig, source: str = "config") -> Resource:
        return cls(config.identifier, config.name, {s.name: s.description for s in config.scopes}, source)

    @classmethod
    def from_row(cls, row: ResourceRow) -> Resource:
        return cls(row.identifier, row.name, {s["name"]: s.get("description") for s in row.scopes}, "database")

    def as_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "name": self.name,
            "scopes": [{"name": name, "description": text} for name, text in sorted(self.scopes.items())],
            "source": self.source,
        }
