"""What every redirect-based login connector offers, and how its failures are typed.

The caller (the login endpoints) stores the dict returned by `begin` server-side, bound to
the browser that started the login, and passes it back to `complete` with the query
parameters of the redirect back. Connectors hold no per-login state themselves.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from token_service.clock import Clock, system_clock
from token_service.settings import TokenServiceSettings, UpstreamConfig
from token_service.users.models import UpstreamProfile


class UpstreamError(Exception):
    """A login at an upstream failed; `reason` says why in words a person can act on, never a secret."""

    error = "upstream_error"

    def __init__(self, upstream: str, reason: str) -> None:
        super().__init__(f"login with {upstream!r} failed: {reason}")
        self.upstream = upstream
        self.reason = reason


class StateMismatchError(UpstreamError):
    """The redirect back does not belong to the login this browser started (CSRF, RFC 6749 §10.12)."""

    error = "state_mismatch"


class IssuerMismatchError(UpstreamError):
    """The response names another issuer: a mix-up attack or a misconfiguration (RFC 9207, OIDC Discovery §4.3)."""

    error = "issuer_mismatch"


class InvalidIdTokenError(UpstreamError):
    error = "invalid_id_token"


class UpstreamDeniedError(UpstreamError):
    """The upstream answered with an OAuth error (RFC 6749 §4.1.2.1 or §5.2), e.g. the person declined."""

    def __init__(self, upstream: str, error: str, description: str | None) -> None:
        reason = f"the upstream answered {error!r}" + (f": {description}" if description else "")
        super().__init__(upstream, reason)
        self.error = error
        self.description = description


class UpstreamUnavailableError(UpstreamError):
    """The upstream could not be reached or answered something that is not its documented response."""

    error = "upstream_unavailable"


class UpstreamConnector(Protocol):
    name: str
    kind: str
    display_name: str

    async def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """The upstream authorization URL, and the JSON-serializable values `complete` needs back."""
        ...

    async def complete(self, redirect_uri: str, params: dict[str, str], saved: dict[str, Any]) -> UpstreamProfile:
        """Checks the redirect back (state, error, iss), exchanges the code, and says who signed in."""
        ...


def build_connectors(settings: TokenServiceSettings, http_client: httpx.AsyncClient, clock: Clock = system_clock) -> dict[str, UpstreamConnector]:
    """One connector per redirect-based upstream; `password` upstreams are handled by the login form."""
    # Imported here because the connector modules import the errors above.
    from token_service.login.connectors.github import GitHubConnector
    from token_service.login.connectors.oidc import OidcConnector

    connectors: dict[str, UpstreamConnector] = {}
    for upstream in settings.upstreams:
        if upstream.kind == "oidc":
            connectors[upstream.name] = OidcConnector(upstream, http_client, leeway=settings.leeway, clock=clock)
        elif upstream.kind == "github":
            connectors[upstream.name] = GitHubConnector(upstream, http_client)
    return connectors


def display_name(upstream: UpstreamConfig, default: str) -> str:
    return upstream.display_name or default
