"""Errors as types (RFC 6749 §4.1.2.1 and §5.2), rendered in one place (http/errors.py)."""

from __future__ import annotations


ECHO_LIMIT = 100
DESCRIPTION_LIMIT = 600


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """A request value as it may appear in an error or a log line: quoted, and cut to `limit`.

    Whatever a client sends comes back at most this long, so a 60 KB parameter cannot
    inflate every error response and log line that names it.
    """
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def clipped(description: str) -> str:
    """The backstop for a description built without echo(); the error registry applies it
    to everything it answers and logs."""
    return description if len(description) <= DESCRIPTION_LIMIT else f"{description[:DESCRIPTION_LIMIT]}... (cut)"


class OAuthError(Exception):
    error: str = "invalid_request"
    status_code: int = 400

    def __init__(self, description: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401

    def __init__(self, description: str, *, used_basic: bool = False) -> None:
        # RFC 6749 §5.2: 401 with a WWW-Authenticate matching the scheme the client used.
        super().__init__(description, headers={"WWW-Authenticate": 'Basic realm="token-service"'} if used_basic else None)


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the requested resource is not allowed for this client."""

    error = "invalid_target"


class InvalidDPoPProof(OAuthError):
    """RFC 9449 §5: the DPoP proof of a token request is missing where required, or invalid."""

    error = "invalid_dpop_proof"


class UseDPoPNonce(OAuthError):
    """RFC 9449 §8: the proof must carry the nonce given in the DPoP-Nonce header."""

    error = "use_dpop_nonce"

    def __init__(self, description: str, *, nonce: str) -> None:
        super().__init__(description, headers={"DPoP-Nonce": nonce, "Cache-Control": "no-store"})


class InvalidClientMetadataError(OAuthError):
    """RFC 7591 §3.2.2: a metadata field's value is invalid (the description names the field)."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2: a redirect URI is invalid."""

    error = "invalid_redirect_uri"


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class RequestNotSupported(OAuthError):
    """OIDC Core §3.1.2.6: the `request` parameter (a request object) is not supported."""

    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    """OIDC Core §3.1.2.6: the `request_uri` parameter is not supported."""

    error = "request_uri_not_supported"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class SlowDown(OAuthError):
    error = "slow_down"
    status_code = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description, headers={"Retry-After": str(max(1, retry_after))})


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, description: str, *, retry_after: int = 5) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})


class NotFound(OAuthError):
    error = "not_found"
    status_code = 404


class StatusListGone(OAuthError):
    """A status list that existed and expired with every token it indexed (410 Gone)."""

    error = "not_found"
    status_code = 410


class PageError(Exception):
    """A failure shown to a person as a page, never redirected to the client.

    Raised where the client or its redirect URI is not (yet) trusted, or the sign-in
    itself went wrong (RFC 6749 §4.1.2.1: an unverified redirect URI is an open redirect).
    """

    def __init__(
        self, title: str, message: str, *, status_code: int = 400, headers: dict[str, str] | None = None, next_step: str | None = None
    ) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status_code = status_code
        self.headers = dict(headers or {})
        self.next_step = next_step
