"""Upstream login connectors: OpenID Connect providers by discovery, and GitHub."""

from token_service.login.connectors.base import (
    InvalidIdTokenError,
    IssuerMismatchError,
    StateMismatchError,
    UpstreamConnector,
    UpstreamDeniedError,
    UpstreamError,
    UpstreamUnavailableError,
    build_connectors,
)

__all__ = [
    "InvalidIdTokenError",
    "IssuerMismatchError",
    "StateMismatchError",
    "UpstreamConnector",
    "UpstreamDeniedError",
    "UpstreamError",
    "UpstreamUnavailableError",
    "build_connectors",
]
