"""Which connector serves each configured upstream."""

from __future__ import annotations

import httpx

from token_service.clock import Clock, system_clock
from token_service.login.connectors.base import UpstreamConnector
from token_service.login.connectors.github import GitHubConnector
from token_service.login.connectors.oidc import OidcConnector
from token_service.settings import TokenServiceSettings

__all__ = ["build_connectors"]


def build_connectors(
    settings: TokenServiceSettings, http_client: httpx.AsyncClient, clock: Clock = system_clock
) -> dict[str, UpstreamConnector]:
    """One connector per redirect-based upstream; `password` upstreams are handled by the login form."""
    connectors: dict[str, UpstreamConnector] = {}
    for upstream in settings.upstreams:
        if upstream.kind == "oidc":
            connectors[upstream.name] = OidcConnector(upstream, http_client, leeway=settings.leeway, clock=clock)
        elif upstream.kind == "github":
            connectors[upstream.name] = GitHubConnector(upstream, http_client)
    return connectors
