"""Which client metadata a client may state about itself, and the rules on top of the
shared model (clients/metadata.py) for a registration nobody on our side reviewed.

RFC 7591 §2: the server ignores metadata it does not understand (`logo_uri`, `contacts`,
`software_id`...), but refuses a known field with a bad value. Fields only an operator
sets (`first_party`, a secret chosen by the client) are refused by name.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from token_service.clients.models import Client
from token_service.clients.metadata import ClientMetadata, InvalidClientMetadata, MetadataProblem, metadata_problems

# The fields of the shared model a client may state (RFC 7591 §2 names, plus ours that a
# client may ask for: the audiences of its tokens and DPoP binding, RFC 9449 §5.2).
SELF_DESCRIBED = frozenset({
    "redirect_uris",
    "post_logout_redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "scope",
    "jwks",
    "jwks_uri",
    "audience",
    "resources",
    "dpop_bound_access_tokens",
})
OPERATOR_ONLY = {
    "first_party": "is set by operators only; a client that registers itself always shows the consent page",
    "client_secret_hash": "is set by operators only",
    "public": "is not a client metadata field; a public client registers token_endpoint_auth_method 'none'",
}
# OpenID Connect scopes a self-registered client may ask for when it names none.
DEFAULT_SCOPES = ("openid", "profile", "email")


def _check_types(body: dict[str, Any]) -> None:
    problems = [
        MetadataProblem(name, f"must be a list of strings, got {type(body[name]).__name__}",
                        "invalid_redirect_uri" if name.endswith("redirect_uris") else "invalid_client_metadata")
        for name in ("redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types", "resources")
        if name in body and body[name] is not None and not (isinstance(body[name], list) and all(isinstance(v, str) for v in body[name]))
    ]
    problems += [
        MetadataProblem(name, f"must be a string, got {type(body[name]).__name__}")
        for name in ("token_endpoint_auth_method", "client_name", "scope", "jwks_uri", "audience")
        if name in body and body[name] is not None and not isinstance(body[name], str)
    ]
    if "dpop_bound_access_tokens" in body and body["dpop_bound_access_tokens"] is not None and not isinstance(body["dpop_bound_access_tokens"], bool):
        problems.append(MetadataProblem("dpop_bound_access_tokens", "must be true or false (RFC 9449 §5.2)"))
    if "jwks" in body and body["jwks"] is not None and not isinstance(body["jwks"], dict):
        problems.append(MetadataProblem("jwks", 'must be a JWK Set object {"keys": [...]}'))
    if problems:
        raise InvalidClientMetadata(problems)


def self_described_metadata(
    body: dict[str, Any], *, client_id: str, client_secret: str | None, default_grants: list[str], secret_hash: str | None = None
) -> ClientMetadata:
    """The client's own description, validated by every rule of the shared model.

    Raises InvalidClientMetadata with each problem naming its field and RFC 7591 code.
    """
    refused = [MetadataProblem(name, reason) for name, reason in OPERATOR_ONLY.items() if name in body]
    if refused:
        raise InvalidClientMetadata(refused)
    _check_types(body)
    fields = {name: value for name, value in body.items() if name in SELF_DESCRIBED and value is not None}
    fields.setdefault("grant_types", default_grants)  # RFC 7591 §2: default authorization_code
    if not fields.get("scope", "").strip():
        grants = fields["grant_types"]
        fields["scope"] = " ".join(DEFAULT_SCOPES + (("offline_access",) if "refresh_token" in grants else ()))
    try:
        return ClientMetadata.model_validate({**fields, "client_id": client_id, "client_secret": client_secret, "client_secret_hash": secret_hash})
    except ValidationError as exc:
        raise InvalidClientMetadata(metadata_problems(exc)) from None


def requested_auth_method(body: dict[str, Any]) -> str:
    """RFC 7591 §2: unset means client_secret_basic, unless the client registered keys."""
    method = body.get("token_endpoint_auth_method")
    if isinstance(method, str):
        return method
    return "private_key_jwt" if body.get("jwks") is not None or body.get("jwks_uri") is not None else "client_secret_basic"


def registration_response_fields(client: Client) -> dict[str, Any]:
    """The registered metadata as RFC 7591 §3.2.1 and RFC 7592 §3 return it (after our defaults)."""
    out: dict[str, Any] = {
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": client.auth_method,
        "grant_types": sorted(client.grant_types),
        "response_types": list(client.response_types),
        "scope": client.scope_text,
    }
    optional = {
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris) or None,
        "client_name": client.client_name,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "audience": client.audience,
        "resources": sorted(client.resources) or None,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out
