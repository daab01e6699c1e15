"""Checks on the redirect back from an upstream, the same for every connector."""

from __future__ import annotations

import hmac
from typing import Any

from token_service.login.connectors.errors import IssuerMismatchError, StateMismatchError, UpstreamDeniedError


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_callback(
    upstream: str, params: dict[str, str], saved: dict[str, Any], *, issuer: str | None, iss_required: bool
) -> str:
    """The authorization code, once the redirect is shown to answer this browser's login at this upstream.

    Order matters: state first (a forged redirect is not processed at all), then `iss`
    (RFC 9207 §2.4: before anything else of the response, error responses included), then
    the error, and only then the code.
    """
    expected_state = saved.get("state")
    if saved.get("upstream") != upstream or not isinstance(expected_state, str):
        raise StateMismatchError(upstream, "the saved login state belongs to another upstream or is incomplete")
    state = params.get("state")
    if state is None:
        raise StateMismatchError(upstream, "the redirect back has no `state`; start the login again")
    if not _same(state, expected_state):
        raise StateMismatchError(upstream, "the redirect back carries a `state` this browser did not start; start the login again")

    iss = params.get("iss")
    if iss is not None:
        if issuer is None:
            raise IssuerMismatchError(
                upstream, f"the redirect back names issuer {iss!r}, but no issuer is configured for this upstream (set `issuer` if it sends one)"
            )
        if iss != issuer:
            raise IssuerMismatchError(upstream, f"the redirect back names issuer {iss!r}, expected {issuer!r} (RFC 9207 mix-up defence)")
    elif iss_required:
        raise IssuerMismatchError(
            upstream, "the redirect back has no `iss`, which this upstream promises to send (authorization_response_iss_parameter_supported)"
        )

    error = params.get("error")
    if error is not None:
        raise UpstreamDeniedError(upstream, error, params.get("error_description"))
    code = params.get("code")
    if not code:
        raise UpstreamDeniedError(upstream, "invalid_request", "the redirect back has neither `code` nor `error`")
    return code
