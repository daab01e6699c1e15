"""How a login at an upstream fails, one class per failure a person or operator can act on."""

from __future__ import annotations

__all__ = [
    "InvalidIdTokenError",
    "IssuerMismatchError",
    "StateMismatchError",
    "UpstreamDeniedError",
    "UpstreamError",
    "UpstreamUnavailableError",
]


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
