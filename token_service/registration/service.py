"""Dynamic client registration (RFC 7591) and management of one's own registration (RFC 7592).

Who may register: a caller with an initial access token (one of our access tokens with
scope `clients:register`, for the registration endpoint's URL as audience), or anyone
registering a public client while open registration is on (what MCP clients expect).
The registration access token of RFC 7592 is shown once and stored only as its hash.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.dpop.resource import RequestAuthenticator
from shared.errors import InsufficientScope, InvalidToken, MissingToken, TokenRejected
from token_service.clients.metadata import SECRET_METHODS, InvalidClientMetadata, MetadataProblem
from token_service.clients.models import Client
from token_service.clients.registry import ClientExistsError, ClientRegistry, Registration
from token_service.clients.secrets import generate_client_secret, verify_client_secret
from token_service.db.models import ClientRow
from token_service.errors import AccessDenied, InvalidClientMetadataError, InvalidRedirectUri, OAuthError
from token_service.registration.fields import registration_response_fields, requested_auth_method, self_described_metadata
from token_service.tokens.denylist import AccessTokenDenyList

log = logging.getLogger("token_service.registration")

REGISTER_SCOPE = "clients:register"
# RFC 7592 §2.2: values the server owns; a client must not send them in an update.
SERVER_OWNED = ("registration_access_token", "registration_client_uri", "client_id_issued_at", "client_secret_expires_at")


def metadata_error(problems: Sequence[MetadataProblem]) -> OAuthError:
    """RFC 7591 §3.2.2: one error code (the first problem's), every problem in the description."""
    description = "; ".join(p.text for p in problems)
    return InvalidRedirectUri(description) if problems[0].code == "invalid_redirect_uri" else InvalidClientMetadataError(description)

# What an anonymous caller may register: clients that act for a user who signs in and consents.
USER_GRANTS = frozenset({"authorization_code", "refresh_token"})


def requested_grants(body: dict[str, Any]) -> list[Any]:
    """RFC 7591 §2: grant_types defaults to authorization_code."""
    grants = body.get("grant_types", ["authorization_code"])
    return grants if isinstance(grants, list) else [grants]



class OpenRegistrationRefused(MissingToken):
    """Without an initial access token: 401 with the challenge, saying what would be accepted."""


class ClientRegistrar:
    def __init__(
        self,
        registry: ClientRegistry,
        db_sessions: async_sessionmaker[AsyncSession],
        initial_tokens: RequestAuthenticator,
        denylist: AccessTokenDenyList,
        *,
        registration_endpoint: str,
        open_registration: bool,
        revoke_tokens: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._revoke_tokens = revoke_tokens
        self._registry = registry
        self._db_sessions = db_sessions
        self._initial_tokens = initial_tokens
        self._denylist = denylist
        self.endpoint = registration_endpoint
        self._open = open_registration

    def challenge(self, exc: TokenRejected, realm: str | None) -> str:
        return self._initial_tokens.challenge(exc, realm=realm)

    async def authorize_registration(self, body: dict[str, Any], *, authorization: list[str], dpop: list[str], method: str, path: str) -> bool:
        """Checks the initial access token, or that open registration admits this client.
        Returns True for an open registration (no token). Raises TokenRejected."""
        if not authorization:
            method = requested_auth_method(body)
            # A secret-based request is answered with a public client (RFC 7591 §3.2.1 lets the
            # server substitute metadata): MCP clients register that way by default, and a secret
            # handed to an anonymous caller would prove nothing about who it is.
            substitutable = method in SECRET_METHODS and all(isinstance(grant, str) and grant in USER_GRANTS for grant in requested_grants(body))
            if self._open and (method == "none" or substitutable):
                return True
            if self._open:
                raise OpenRegistrationRefused(
                    f"open registration admits public clients only (token_endpoint_auth_method 'none', not {method[:40]!r}); "
                    f"a client with its own keys needs an initial access token with scope {REGISTER_SCOPE!r}"
                )
            raise OpenRegistrationRefused(
                f"registration needs an initial access token: send 'Authorization: Bearer <token>' with an access token "
                f"of this service with scope {REGISTER_SCOPE!r} and audience {self.endpoint}"
            )
        claims = await self._initial_tokens.authenticate(authorization=authorization, dpop=dpop, method=method, path=path)
        if not claims.has_scopes(REGISTER_SCOPE):
            raise InsufficientScope((REGISTER_SCOPE,), granted_scopes=claims.scopes)
        if await self._denylist.contains(claims.jti):
            raise InvalidToken("the access token has been revoked", rule="revocation")
        return False

    async def register(self, body: dict[str, Any], *, openly: bool) -> dict[str, Any]:
        """RFC 7591 §3.2.1: the client information response (secret and RFC 7592 token shown once)."""
        await self._registry.remove_unused_open_registrations()
        client_id = "dcr-" + secrets.token_urlsafe(16)
        if openly:
            body = {**body, "token_endpoint_auth_method": "none"}
        secret = generate_client_secret() if requested_auth_method(body) in SECRET_METHODS else None
        try:
            metadata = self_described_metadata(body, client_id=client_id, client_secret=secret, default_grants=["authorization_code"])
        except InvalidClientMetadata as exc:
            raise metadata_error(exc.problems) from None
        token = secrets.token_urlsafe(32)
        try:
            client = await self._registry.add(metadata, Registration(token_hash=token_hash(token), openly=openly))
        except InvalidClientMetadata as exc:
            raise metadata_error(exc.problems) from None
        except ClientExistsError as exc:  # a 128-bit random id: practically never
            raise InvalidClientMetadataError(str(exc)) from None
        # Operators see every registration (the secret and tokens never appear in logs).
        log.info("client registered", extra={"client_id": client.client_id, "client_name": (client.client_name or "")[:200], "open_registration": openly})
        return self.information(client, token, secret=secret)

    def information(self, client: Client, token: str, *, secret: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client_id": client.client_id,
            "client_id_issued_at": client.created_at,
            **registration_response_fields(client),
            "registration_access_token": token,
            "registration_client_uri": f"{self.endpoint}/{client.client_id}",
        }
        if secret is not None:
            out["client_secret"] = secret
            out["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: does not expire
        return out

    async def own_client(self, client_id: str, authorization: list[str]) -> tuple[Client, str]:
        """RFC 7592 §2: the client whose registration access token this is, if it is `client_id`'s."""
        token = _bearer(authorization)
        async with self._db_sessions() as session:
            owner = (
                await session.execute(select(ClientRow.client_id).where(ClientRow.registration_token_hash == token_hash(token)))
            ).scalar_one_or_none()
        if owner is None:
            raise InvalidToken("the registration access token is not valid (unknown, or its client was deleted)", rule="registration")
        if owner != client_id:
            raise AccessDenied("this registration access token belongs to another client; each token manages only its own registration")
        client = await self._registry.get(client_id)
        if client is None:
            # RFC 7592 §2.1: a client that does not exist (here: an expired open registration) is answered 401.
            raise InvalidToken(f"no client {client_id[:80]!r} is registered", rule="registration")
        return client, token

    async def update(self, client: Client, body: dict[str, Any]) -> tuple[Client, str | None]:
        """RFC 7592 §2.2: replace the registration with the metadata sent (all of it)."""
        if body.get("client_id") != client.client_id:
            raise InvalidClientMetadataError(f"client_id: the body must name this client ({client.client_id!r}) (RFC 7592 §2.2)")
        owned = [name for name in SERVER_OWNED if name in body]
        if owned:
            raise InvalidClientMetadataError(f"{owned[0]}: is set by the server and must not be sent in an update (RFC 7592 §2.2)")
        method = requested_auth_method(body)
        if client.registered_openly and method != "none":
            raise InvalidClientMetadataError(
                "token_endpoint_auth_method: a client registered without an initial access token stays public ('none')"
            )
        sent_secret = body.pop("client_secret", None)
        if sent_secret is not None and not (isinstance(sent_secret, str) and verify_client_secret(sent_secret, client.secret_hash)):
            raise InvalidClientMetadataError("client_secret: differs from the client's current secret (RFC 7592 §2.2)")
        new_secret = generate_client_secret() if method in SECRET_METHODS and client.secret_hash is None else None
        try:
            metadata = self_described_metadata(
                {k: v for k, v in body.items() if k != "client_id"},
                client_id=client.client_id,
                client_secret=new_secret,
                default_grants=["authorization_code"],
                secret_hash=client.secret_hash if method in SECRET_METHODS and new_secret is None else None,
            )
            updated = await self._registry.update(metadata)
        except InvalidClientMetadata as exc:
            raise metadata_error(exc.problems) from None
        if updated is None:
            raise InvalidToken(f"no client {client.client_id[:80]!r} is registered", rule="registration")
        return updated, new_secret

    async def delete(self, client: Client) -> None:
        # RFC 7592 §2.3: the tokens issued to a deleted client are invalidated too.
        if self._revoke_tokens is not None:
            await self._revoke_tokens(client.client_id)
        await self._registry.remove(client.client_id)
        log.info("client registration deleted", extra={"client_id": client.client_id})


def token_hash(token: str) -> str:
    # A 256-bit random token needs no slow hash (see clients/secrets.py); looked up by equality.
    return "sha256$" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _bearer(authorization: list[str]) -> str:
    if len(authorization) != 1:
        raise MissingToken("send the registration access token as 'Authorization: Bearer <token>' (RFC 7592 §2)")
    scheme, _, token = authorization[0].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingToken("send the registration access token as 'Authorization: Bearer <token>' (RFC 7592 §2)")
    return token.strip()
