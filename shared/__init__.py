"""Verifying RFC 9068 JWT access tokens in any Python service.

`JwksCache` holds the issuer's keys, `AccessTokenVerifier` applies the rules in
`shared.rules`, and `shared.litestar` / `shared.fastapi` plug them into a web
framework. `verify_access_token` is the framework-neutral entry point.
`ProtectedResource` is the API's RFC 9728 metadata, which the integrations serve and
name in every challenge. `TokenClient` is the other side: tokens for calling another API.
"""

from .claims import RFC9068_REQUIRED_CLAIMS, AccessTokenClaims
from .configuration import ConfigurationError
from .errors import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    IssuerMismatch,
    KeySetUnavailable,
    MissingToken,
    TokenRejected,
    www_authenticate,
)
from .jwks import JwksCache, JwksStatus
from .resource_metadata import ProtectedResource
from .rules import RULES, Rule
from .token_client import AccessToken, TokenClient, TokenRequestError
from .verifier import AccessTokenVerifier, Evaluation, RuleResult, verify_access_token

__all__ = [
    "RFC9068_REQUIRED_CLAIMS",
    "RULES",
    "AccessToken",
    "AccessTokenClaims",
    "AccessTokenVerifier",
    "ConfigurationError",
    "Evaluation",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "IssuerMismatch",
    "JwksCache",
    "JwksStatus",
    "KeySetUnavailable",
    "MissingToken",
    "ProtectedResource",
    "Rule",
    "RuleResult",
    "TokenClient",
    "TokenRejected",
    "TokenRequestError",
    "verify_access_token",
    "www_authenticate",
]
