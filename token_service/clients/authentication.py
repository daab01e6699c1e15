"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3)."""

from __future__ import annotations

from collections.abc import Sequence

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote

from token_service.clients.models import Client
from token_service.clients.registry import ClientRegistry
from token_service.clients.secrets import verify_client_secret
from token_service.errors import InvalidClient, InvalidRequest

SUPPORTED_METHODS = ("client_secret_basic", "client_secret_post", "none")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | none


def single_authorization(values: Sequence[str]) -> str | None:
    """The one Authorization header of a request, or None.

    Two of them are refused, as the resource API refuses them (shared/bearer.py): taking the
    first would let a proxy or client that adds its own header decide which credential counts.
    """
    if len(values) > 1:
        raise InvalidRequest(f"the request has more than one Authorization header ({len(values)}); send exactly one")
    return values[0] if values else None


def read_credentials(authorization: str | None, params: dict[str, str]) -> Credentials:
    basic = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            basic = _decode_basic(value.strip())
    if basic is not None:
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        if "client_secret" in params:
            raise InvalidRequest("the client authenticated with both HTTP Basic and client_secret in the body; use one")
        if "client_id" in params and params["client_id"] != basic.client_id:
            raise InvalidRequest("client_id in the body differs from the one in the Authorization header")
        return basic
    client_id = params.get("client_id")
    if not client_id:
        raise InvalidClient("client authentication is required: send client_id (and the secret by HTTP Basic or client_secret)")
    secret = params.get("client_secret")
    return Credentials(client_id, secret, "client_secret_post" if secret is not None else "none")


def _decode_basic(value: str) -> Credentials:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("the Basic credentials are not valid base64 of UTF-8 text", used_basic=True) from None
    if ":" not in decoded:
        raise InvalidClient("the Basic credentials must be client_id:client_secret", used_basic=True)
    raw_id, _, raw_secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return Credentials(unquote(raw_id), unquote(raw_secret), "client_secret_basic")


async def authenticate_client(registry: ClientRegistry, credentials: Credentials) -> Client:
    used_basic = credentials.method == "client_secret_basic"
    client = await registry.get(credentials.client_id)
    if credentials.secret is None:
        if client is None or not client.public:
            raise InvalidClient("unknown client or the client must authenticate with its secret", used_basic=used_basic)
        return client
    if client is not None and client.public:
        raise InvalidClient("a public client has no secret; send only client_id", used_basic=used_basic)
    # The secret is checked whether or not the client exists: the same work either way,
    # so the response time does not reveal which client ids exist.
    valid = verify_client_secret(credentials.secret, client.secret_hash if client is not None else None)
    if client is None or not valid:
        raise InvalidClient("client authentication failed (unknown client or wrong secret)", used_basic=used_basic)
    return client
