"""Why a request's bearer token was refused, as types mapped to RFC 6750 §3.1 codes.

Every rejection carries a `reason` a person can act on and the `rule` that failed,
so the HTTP integrations, the logs and `token-service explain` all say the same
thing. A reason never contains the token itself or any secret.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "IssuerMismatch",
    "StatusUnavailable",
    "KeySetUnavailable",
    "MissingToken",
    "TokenRejected",
    "www_authenticate",
]


class TokenRejected(Exception):
    """The request's access token was not accepted."""

    error: str = "invalid_token"
    status_code: int = 401
    scheme: str | None = None
    """The authorization scheme the request used (Bearer, DPoP), when known: its challenge carries the error."""

    def __init__(self, reason: str, *, rule: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rule={self.rule!r}, reason={self.reason!r})"


class InvalidRequest(TokenRejected):
    """The request itself is malformed: two credentials, a token in the URL (RFC 6750 §3.1)."""

    error = "invalid_request"
    status_code = 400


class InvalidToken(TokenRejected):
    """The token is expired, revoked, malformed or otherwise not acceptable (RFC 6750 §3.1)."""

    error = "invalid_token"
    status_code = 401


class MissingToken(InvalidToken):
    """The request carries no bearer token at all.

    Rendered like any invalid_token rejection (see `www_authenticate`), with a
    description that says what to send.
    """

    def __init__(self, reason: str = "the request has no access token; send it as 'Authorization: Bearer <token>'") -> None:
        super().__init__(reason, rule="credentials")


class InsufficientScope(TokenRejected):
    """A valid token that lacks a scope the endpoint needs (RFC 6750 §3.1)."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, required_scopes: Iterable[str], *, granted_scopes: Iterable[str] = ()) -> None:
        self.required_scopes: tuple[str, ...] = tuple(required_scopes)
        granted = sorted(set(granted_scopes))
        missing = [s for s in self.required_scopes if s not in granted]
        has = " ".join(granted) if granted else "no scopes"
        super().__init__(f"the token lacks scope {' '.join(missing)!r} (it has: {has})", rule="scope")

    @property
    def scope(self) -> str:
        """The scope value for the challenge: every scope the endpoint needs."""
        return " ".join(self.required_scopes)


class KeySetUnavailable(Exception):
    """The issuer's key set could not be loaded, so no token can be checked right now.

    Not a `TokenRejected`: the token may be fine, and telling the client to get
    a new one would be wrong. HTTP integrations answer 503 with Retry-After.
    """

    error = "temporarily_unavailable"
    status_code = 503
    rule = "jwks"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StatusUnavailable(Exception):
    """No usable copy of a token status list (fetch failed beyond the stale allowance, or refused)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerMismatch(KeySetUnavailable):
    """Discovery names a different issuer than the one configured (OIDC Discovery §4.3)."""


# RFC 6750 §3: error_description may only hold %x20-21 / %x23-5B / %x5D-7E, so a
# quote or backslash is not allowed even escaped; it is replaced instead.
_DESCRIPTION_REPLACEMENTS = str.maketrans({'"': "'", "\\": "/"})
_MAX_DESCRIPTION = 400


def _header_safe(text: str) -> str:
    text = text.translate(_DESCRIPTION_REPLACEMENTS)
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    if len(text) > _MAX_DESCRIPTION:
        text = text[: _MAX_DESCRIPTION - 3] + "..."
    return text


def www_authenticate(
    exc: TokenRejected, realm: str | None = None, resource_metadata: str | None = None, scope: str | None = None
) -> str:
    """The RFC 6750 §3 `WWW-Authenticate` challenge for a rejection.

    `Bearer realm="api", error="invalid_token", error_description="..."`, with
    `scope="..."` naming the needed scopes for insufficient_scope (or, given `scope`, the
    scopes to ask for, on any challenge) and `resource_metadata="<url>"` (RFC 9728 §5.1)
    when the API publishes its protected resource metadata.
    """
    params: list[str] = []
    if realm is not None:
        params.append(f'realm="{_header_safe(realm)}"')
    # RFC 6750 §3.1 lets a challenge to a request without credentials omit the error
    # code; we include it anyway (our public interface promises it for "no or bad
    # token"), so the person debugging a 401 always reads the reason in the header.
    params.append(f'error="{exc.error}"')
    params.append(f'error_description="{_header_safe(exc.reason)}"')
    needed = exc.scope if isinstance(exc, InsufficientScope) else scope
    if needed:
        params.append(f'scope="{_header_safe(needed)}"')
    if resource_metadata is not None:
        params.append(f'resource_metadata="{_header_safe(resource_metadata)}"')
    return "Bearer " + ", ".join(params)
