"""Taking the bearer token out of a request (RFC 6750 §2), the same way in every framework."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InvalidRequest, MissingToken

__all__ = ["bearer_token_from", "credentials_from"]


def bearer_token_from(authorization: Sequence[str], *, token_in_query: bool = False) -> str:
    """The token from the request's `Authorization` header values.

    Raises MissingToken when there is no bearer credential, and InvalidRequest for
    a token in the URL or more than one credential (RFC 6750 §2: clients MUST NOT
    use more than one method per request).
    """
    return credentials_from(authorization, token_in_query=token_in_query)[1]


def credentials_from(authorization: Sequence[str], *, token_in_query: bool = False, schemes: Sequence[str] = ("Bearer",)) -> tuple[str, str]:
    """The (scheme, token) of the request, the scheme spelled as in `schemes` (Bearer, DPoP)."""
    if token_in_query:
        # RFC 6750 §2.3 allows it, but URLs end up in logs and Referer headers.
        raise InvalidRequest(
            "access tokens in the URL (access_token query parameter) are not accepted; "
            "send the token as 'Authorization: Bearer <token>'",
            rule="credentials",
        )
    if len(authorization) > 1:
        raise InvalidRequest(f"the request has more than one Authorization header ({len(authorization)}); send exactly one", rule="credentials")
    # A comma cannot occur in a bearer token (RFC 6750 §2.1 b64token): most likely two
    # credentials that a client or proxy joined into one header. Say what was seen, since
    # the request itself may well carry a single header.
    if authorization and "," in authorization[0]:
        raise InvalidRequest(
            "the Authorization header contains a comma, which no bearer token can contain (RFC 6750 §2.1): "
            "two credentials in one value, or more than one Authorization header joined by a client or proxy; "
            "send exactly one 'Bearer <token>'",
            rule="credentials",
        )
    if not authorization:
        raise MissingToken()
    scheme, _, credentials = authorization[0].strip().partition(" ")
    # auth-scheme is case-insensitive (RFC 9110 §11.1)
    known = next((name for name in schemes if name.lower() == scheme.lower()), None)
    if known is None:
        shown = scheme if scheme.isascii() and scheme.isalnum() and len(scheme) <= 20 else "another scheme"
        accepted = " or ".join(schemes)
        raise MissingToken(f"the Authorization header uses {shown}, not {accepted}; send 'Authorization: {schemes[0]} <token>'")
    token = credentials.strip()
    if not token:
        raise InvalidRequest(f"the Authorization header says {known} but carries no token", rule="credentials")
    return known, token
