"""The TOML-only tables: `[[upstreams]]` (login providers), `[[clients]]` and `[[resources]]`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from token_service.clients.metadata import ClientMetadata, GrantType
from token_service.resources.model import ResourceConfig

from .values import validate_issuer_url

__all__ = ["ClientConfig", "GrantType", "ResourceConfig", "UpstreamConfig"]


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


# `[[clients]]` entries are client metadata, validated by the one model every source shares
# (the TOML table, `clients add`, registration).
ClientConfig = ClientMetadata
