"""Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State

from shared.dpop import DPOP_ALGORITHMS
from token_service.clients.key_set import SIGNING_ALGORITHMS
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.keys.current import CurrentKeys
from token_service.observability.metrics import TokenServiceMetrics
from token_service.settings import TokenServiceSettings

# Discovery and the JWKS are served from memory, so they stay up while a backend is away
# (verifiers keep verifying); see backends.py.
FROM_MEMORY = route_opt(backends=())


def discovery_document(settings: TokenServiceSettings, grant_types: list[str], extra: dict[str, Any] | None = None) -> bytes:
    # Lists only what is implemented: a client library trusts these fields.
    document: dict[str, Any] = {
        "issuer": settings.issuer,
        "jwks_uri": settings.endpoint("/jwks.json"),
        "authorization_endpoint": settings.endpoint("/authorize"),
        "token_endpoint": settings.endpoint("/token"),
        "userinfo_endpoint": settings.endpoint("/userinfo"),
        "end_session_endpoint": settings.endpoint("/logout"),
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "revocation_endpoint": settings.endpoint("/revoke"),
        # RFC 7009 §2.1: public clients may revoke their own tokens by client_id alone.
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "introspection_endpoint": settings.endpoint("/introspect"),
        # RFC 7662 §2.1: only callers that prove who they are, so no "none".
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "name", "preferred_username", "email", "email_verified"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        # RFC 9449 §5.1: proofs at the token endpoint bind tokens to the client's key.
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        # RFC 7591 §3 (RFC 7592 management at each client's registration_client_uri).
        "registration_endpoint": settings.endpoint("/register"),
        # draft-ietf-oauth-client-id-metadata-document: an https client_id names the client's metadata.
        "client_id_metadata_document_supported": True,
    }
    if settings.status_list_enabled:
        # draft-ietf-oauth-status-list §9.3: where verifiers find every current list to prefetch.
        document["status_list_aggregation_endpoint"] = settings.endpoint("/statuslists")
    document.update(extra or {})
    return msgspec.json.encode(document)


@get(["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"], summary="Discovery", opt=FROM_MEMORY)
async def discovery(discovery_bytes: Injected[bytes]) -> Response[bytes]:
    return Response(
        content=discovery_bytes,
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # RFC 9110 §13.1.2: If-None-Match uses weak comparison.
    candidates = [item.strip().removeprefix("W/") for item in header.split(",")]
    return etag in candidates


@get("/jwks.json", summary="JSON Web Key Set", opt=FROM_MEMORY)
async def jwks(
    request: Request[Any, Any, State], current_keys: Injected[CurrentKeys], jwks_max_age: Injected[int], metrics: Injected[TokenServiceMetrics]
) -> Response[bytes]:
    snapshot = current_keys.current()
    headers = {
        "ETag": snapshot.etag,
        "Cache-Control": f"public, max-age={jwks_max_age}",
        "Access-Control-Allow-Origin": "*",
    }
    if etag_matches(request.headers.get("if-none-match"), snapshot.etag):
        metrics.jwks_responses.labels("304").inc()
        return Response(content=b"", status_code=304, headers=headers)
    metrics.jwks_responses.labels("200").inc()
    return Response(content=snapshot.jwks_bytes, media_type="application/json", headers=headers)
