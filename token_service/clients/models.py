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

    @classmethod
    def from_row(cls, row: ClientRow) -> Client:
        return cls(
            client_id=row.client_id,
            secret_hash=row.secret_hash,
            grant_types=frozenset(row.grant_types),
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            scopes=frozenset(row.scope.split()),
            scope_text=" ".join(sorted(set(row.scope.split()))),
            audience=row.audience,
            resources=frozenset(row.resources),
            public=row.public,
            first_party=row.first_party,
            source="database",
        )

    @classmethod
    def from_config(cls, config: ClientConfig, secret_hash: str | None) -> Client:
        return cls(
            client_id=config.client_id,
            secret_hash=secret_hash,
            grant_types=frozenset(config.grant_types),
            redirect_uris=tuple(config.redirect_uris),
            post_logout_redirect_uris=tuple(config.post_logout_redirect_uris),
            scopes=frozenset(config.scope.split()),
            scope_text=" ".join(sorted(set(config.scope.split()))),
            audience=config.audience,
            resources=frozenset(config.resources),
            public=config.public,
            first_party=config.first_party,
            source="config",
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
