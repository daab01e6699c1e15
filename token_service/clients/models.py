"""The client as the rest of the service sees it (immutable; built from a row or the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from token_service.db.models import ClientRow
from token_service.settings import ClientConfig


@dataclass(frozen=True)
class Client:
    client_id: str
    secret_hash: str | None
    grant_types: frozenset[str]
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    scope_text: str
    audience: str | None
    resources: frozenset[str]
    public: bool
    first_party: bool
    source: str  # "database" or "config"
    dpop_bound_access_tokens: bool = False
    """RFC 9449 §5.2: every token request of this client must carry a DPoP proof."""

    @classmethod
    def from_row(cls, row: ClientRow) -> Client:
        return cls._build(row, row.secret_hash, "database")

    @classmethod
    def from_config(cls, config: ClientConfig, secret_hash: str | None) -> Client:
        return cls._build(config, secret_hash, "config")

    @classmethod
    def _build(cls, fields: ClientRow | ClientConfig, secret_hash: str | None, source: str) -> Client:
        # A stored row and a TOML entry name their fields alike; one conversion serves both.
        scopes = frozenset(fields.scope.split())
        return cls(
            client_id=fields.client_id,
            secret_hash=secret_hash,
            grant_types=frozenset(fields.grant_types),
            redirect_uris=tuple(fields.redirect_uris),
            post_logout_redirect_uris=tuple(fields.post_logout_redirect_uris),
            scopes=scopes,
            scope_text=" ".join(sorted(scopes)),
            audience=fields.audience,
            resources=frozenset(fields.resources),
            public=fields.public,
            first_party=fields.first_party,
            source=source,
            dpop_bound_access_tokens=fields.dpop_bound_access_tokens if isinstance(fields, ClientConfig) else False,
        )

    def allowed_audiences(self) -> frozenset[str]:
        return self.resources | ({self.audience} if self.audience else set())

    def origins(self) -> frozenset[str]:
        """Origins of the registered redirect URIs: the only ones CORS admits for this client."""
        result = set()
        for uri in self.redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme in ("http", "https") and parts.netloc:
                result.add(f"{parts.scheme}://{parts.netloc}")
        return frozenset(result)
