"""The client as the rest of the service sees it (immutable; built from a row or the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from token_service.clients.metadata import ClientMetadata
from token_service.db.models import ClientRow


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
    source: str  # the origin: "config", "operator", "dynamic" (RFC 7591) or "metadata-document"
    auth_method: str = "client_secret_basic"
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    client_name: str | None = None
    dpop_bound_access_tokens: bool = False
    created_at: int | None = None
    last_used_at: int | None = None
    registered_openly: bool = False
    registration_token_hash: str | None = None
    response_types: tuple[str, ...] = ()

    @property
    def registered_by_others(self) -> bool:
        """Registered by the client itself (RFC 7591) or described by its own document: never
        first-party, and the consent page says where it comes from."""
        return self.source in ("dynamic", "metadata-document")

    @classmethod
    def from_row(cls, row: ClientRow) -> Client:
        # Rows from before migration 0002 have no method: derive what they did then.
        method = row.token_endpoint_auth_method or ("none" if row.public else "client_secret_basic")
        client = cls._build(row, row.secret_hash, row.origin or "operator", method)
        return replace(
            client,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            registered_openly=bool(row.registered_openly),
            registration_token_hash=row.registration_token_hash,
        )

    @classmethod
    def from_metadata(cls, metadata: ClientMetadata, secret_hash: str | None, source: str = "config") -> Client:
        return cls._build(metadata, secret_hash, source, metadata.auth_method)

    @classmethod
    def _build(cls, fields: ClientRow | ClientMetadata, secret_hash: str | None, source: str, method: str) -> Client:
        # A stored row and the metadata model name their fields alike; one conversion serves both.
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
            public=method == "none",
            source=source,
            auth_method=method,
            jwks=fields.jwks,
            jwks_uri=fields.jwks_uri,
            client_name=fields.client_name,
            dpop_bound_access_tokens=bool(fields.dpop_bound_access_tokens),
            # Never first-party when the client registered or describes itself.
            first_party=fields.first_party and source not in ("dynamic", "metadata-document"),
            response_types=tuple(fields.response_types or ()),
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
