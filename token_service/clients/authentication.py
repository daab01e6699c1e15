"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
a secret (HTTP Basic or in the body), a signed assertion (private_key_jwt, RFC 7523), or
nothing for public clients."""

from __future__ import annotations

from collections.abc import Sequence

import base64
import binascii
import logging
from dataclasses import dataclass
from urllib.parse import unquote

from token_service.clients.assertion import JWT_BEARER, AssertionRefused, ClientAssertionVerifier, UnverifiedAssertion
from token_service.clients.documents import ClientDocumentRefused
from token_service.clients.models import Client
from token_service.clients.registry import ClientRegistry
from token_service.clients.secrets import verify_client_secret
from token_service.errors import InvalidClient, InvalidRequest

SUPPORTED_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")

log = logging.getLogger("token_service.clients")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | private_key_jwt | none
    assertion: UnverifiedAssertion | None = None


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
    if "client_assertion" in params or "client_assertion_type" in params:
        return _read_assertion(params, with_secret=basic is not None or "client_secret" in params)
    if basic is not None:
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        if "client_secret" in params:
            raise InvalidRequest("the client authenticated with both HTTP Basic and client_secret in the body; use one")
        if "client_id" in params and params["client_id"] != basic.client_id:
            raise InvalidRequest("client_id in the body differs from the one in the Authorization header")
        return basic
    client_id = params.get("client_id")
    if not client_id:
        raise InvalidClient(
            "client authentication is required: send client_id with the secret (HTTP Basic or client_secret) "
            "or a client_assertion (private_key_jwt)"
        )
    secret = params.get("client_secret")
    return Credentials(client_id, secret, "client_secret_post" if secret is not None else "none")


def _read_assertion(params: dict[str, str], *, with_secret: bool) -> Credentials:
    if with_secret:
        raise InvalidClient(
            "the request carries both a client secret and a client_assertion; a client uses one authentication method per request (RFC 6749 §2.3)"
        )
    if params.get("client_assertion_type") != JWT_BEARER:
        raise InvalidClient(f"client_assertion_type must be {JWT_BEARER} (RFC 7523 §2.2)")
    token = params.get("client_assertion")
    if not token:
        raise InvalidClient("client_assertion_type is given but client_assertion is missing")
    try:
        assertion = UnverifiedAssertion.parse(token)
    except AssertionRefused as exc:
        raise InvalidClient(exc.reason) from None
    client_id = params.get("client_id") or assertion.subject
    if not client_id:
        raise InvalidClient("client_assertion has no sub claim; it must be the client_id (RFC 7523 §3)")
    if assertion.subject is not None and assertion.subject != client_id:
        raise InvalidClient(f"client_id {client_id[:80]!r} differs from the client_assertion's sub {assertion.subject[:80]!r}")
    return Credentials(client_id, None, "private_key_jwt", assertion)


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


class ClientAuthenticator:
    """Decides which registered client a request comes from, or raises InvalidClient with the reason."""

    def __init__(self, registry: ClientRegistry, assertions: ClientAssertionVerifier) -> None:
        self._registry = registry
        self._assertions = assertions

    async def authenticate(self, credentials: Credentials) -> Client:
        try:
            return await self._authenticate(credentials)
        except InvalidClient as exc:
            # Operators see why a client was refused without the client's help.
            log.warning(
                "client authentication refused",
                extra={"client_id": credentials.client_id[:200], "auth_method": credentials.method, "reason": exc.description},
            )
            raise

    async def _authenticate(self, credentials: Credentials) -> Client:
        used_basic = credentials.method == "client_secret_basic"
        try:
            client = await self._registry.find(credentials.client_id)
        except ClientDocumentRefused as exc:
            raise InvalidClient(f"the client's metadata document cannot be used: {exc.reason}", used_basic=used_basic) from None
        if credentials.assertion is not None:
            if client is None:
                raise InvalidClient(f"no client {credentials.client_id[:80]!r} is registered")
            if client.auth_method != "private_key_jwt":
                raise InvalidClient(
                    f"client {client.client_id!r} is registered for {client.auth_method}, not private_key_jwt; "
                    "authenticate the way it was registered"
                )
            try:
                await self._assertions.verify(client, credentials.assertion)
            except AssertionRefused as exc:
                raise InvalidClient(exc.reason) from None
            return client
        if client is not None and client.auth_method == "private_key_jwt":
            raise InvalidClient(
                f"client {client.client_id!r} authenticates with private_key_jwt: send a signed client_assertion; it has no secret",
                used_basic=used_basic,
            )
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
