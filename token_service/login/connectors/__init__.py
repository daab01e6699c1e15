"""Upstream login connectors: OpenID Connect providers by discovery, and GitHub."""

from token_service.login.connectors.base import UpstreamConnector
from token_service.login.connectors.errors import (
    InvalidIdTokenError,
    IssuerMismatchError,
    StateMismatchError,
    UpstreamDeniedError,
    UpstreamError,
    UpstreamUnavailableError,
)
from token_service.login.connectors.registry import build_connectors

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
