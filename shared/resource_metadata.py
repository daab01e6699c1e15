"""OAuth 2.0 Protected Resource Metadata (RFC 9728): how an API describes itself.

A client that gets a 401 from an API follows the `resource_metadata` URL in the
challenge (RFC 9728 §5.1) to a JSON document naming the API's identifier (the `aud`
its tokens must carry), the authorization servers that issue them, the scopes it
understands and how tokens may be presented. MCP clients find the token service
this way; nothing has to be configured in them.

    resource = ProtectedResource(resource_name="Notes API", scopes_supported=("notes:read", "notes:write"))
    BearerAuthPlugin(verifier, metadata=resource)      # serves the document, names it in every 401

`resource` and `authorization_servers` default to the verifier's audience and issuer;
`resolve()` fills them in, and the DPoP fields from what the API accepts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .dpop.resource import RequestAuthenticator

__all__ = ["WELL_KNOWN_PATH", "ProtectedResource", "metadata_url"]

#: RFC 9728 §3: the well-known URI suffix, registered in §8.3.
WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"

#: How long clients may keep the document: it changes only when the API is reconfigured.
METADATA_MAX_AGE = 300


def metadata_url(resource: str) -> str:
    """Where the metadata of `resource` lives (RFC 9728 §3.1): the well-known suffix goes
    between the host and the path, so `https://api.example/mcp` is described at
    `https://api.example/.well-known/oauth-protected-resource/mcp`."""
    parts = urlsplit(resource)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ValueError(f"a protected resource identifier must be an http(s) URL without a fragment (RFC 9728 §1.2), got {resource!r}")
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_PATH}{path}{query}"


@dataclass(frozen=True)
class ProtectedResource:
    """The metadata of one protected resource (RFC 9728 §2)."""

    resource: str | None = None
    """The resource identifier, the `aud` of its tokens; None: the verifier's audience."""
    authorization_servers: tuple[str, ...] = ()
    """Issuers of tokens for it; empty: the verifier's issuer."""
    scopes_supported: tuple[str, ...] = ()
    """Scopes clients may ask for to use it (offline_access does not belong here)."""
    resource_name: str | None = None
    """A name people read, e.g. on a consent page."""
    bearer_methods_supported: tuple[str, ...] = ("header",)
    """How tokens may be sent: only the Authorization header (RFC 6750 §2.1)."""
    dpop_signing_alg_values_supported: tuple[str, ...] = ()
    """DPoP proof algorithms accepted (RFC 9449 §5.1); set by `resolve` when DPoP is on."""
    dpop_bound_access_tokens_required: bool = False
    """True when bearer tokens are refused altogether."""

    def __post_init__(self) -> None:
        # Sequences given as lists stay hashable and immutable.
        for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported", "dpop_signing_alg_values_supported"):
            value: Sequence[str] = getattr(self, name)
            object.__setattr__(self, name, tuple(value))
        if self.resource is not None:
            metadata_url(self.resource)

    def resolve(self, authenticator: RequestAuthenticator) -> ProtectedResource:
        """This metadata completed from the API's verifier and DPoP options."""
        policy = authenticator.verifier.policy
        return dataclasses.replace(
            self,
            resource=self.resource or policy.audience,
            authorization_servers=self.authorization_servers or (policy.issuer,),
            dpop_signing_alg_values_supported=self.dpop_signing_alg_values_supported or authenticator.policy.algorithms,
            dpop_bound_access_tokens_required=self.dpop_bound_access_tokens_required or authenticator.require_dpop,
        )

    @property
    def identifier(self) -> str:
        if self.resource is None:
            raise ValueError("the resource identifier is not known yet: call resolve() with the API's authenticator")
        return self.resource

    @property
    def url(self) -> str:
        """The `resource_metadata` URL every challenge names."""
        return metadata_url(self.identifier)

    @property
    def path(self) -> str:
        """The path the API serves the document at (the URL's path: the API is reached at its origin)."""
        return urlsplit(self.url).path

    def document(self) -> dict[str, Any]:
        """The JSON document (RFC 9728 §3.2); empty and false members are left out."""
        if not self.authorization_servers:
            raise ValueError("no authorization server is named: call resolve() with the API's authenticator")
        document: dict[str, Any] = {"resource": self.identifier, "authorization_servers": list(self.authorization_servers)}
        if self.scopes_supported:
            document["scopes_supported"] = list(self.scopes_supported)
        document["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.resource_name:
            document["resource_name"] = self.resource_name
        if self.dpop_signing_alg_values_supported:
            document["dpop_signing_alg_values_supported"] = list(self.dpop_signing_alg_values_supported)
        if self.dpop_bound_access_tokens_required:
            document["dpop_bound_access_tokens_required"] = True
        return document

    @property
    def response_headers(self) -> dict[str, str]:
        # Public by nature; browser-based clients (MCP inspectors, SPAs) read it cross-origin.
        return {"Cache-Control": f"public, max-age={METADATA_MAX_AGE}", "Access-Control-Allow-Origin": "*"}
