"""Login with any OpenID Connect provider, found by discovery (OpenID Connect Discovery 1.0)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from joserfc.jwk import Key

from token_service.login.connectors.base import display_name
from token_service.login.connectors.errors import (
    InvalidIdTokenError,
    IssuerMismatchError,
    StateMismatchError,
    UpstreamUnavailableError,
)
from token_service.login.connectors.callback import check_callback
from token_service.login.connectors.fetch import get_json
from token_service.clock import Clock, system_clock
from token_service.login.connectors.id_token import IdTokenExpectations, verify_id_token
from token_service.login.connectors.jwks import UpstreamJwks
from token_service.login.connectors.oauth_client import authorization_url, exchange_code, new_secret, oauth_client
from token_service.settings import UpstreamConfig
from token_service.users.models import UpstreamProfile

_REQUIRED_METADATA = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class OidcConnector:
    kind = "oidc"

    def __init__(self, upstream: UpstreamConfig, http: httpx.AsyncClient, *, leeway: int = 30, clock: Clock = system_clock) -> None:
        assert upstream.issuer and upstream.client_id, "UpstreamConfig validation requires both for kind oidc"
        self.name = upstream.name
        self.display_name = display_name(upstream, upstream.name)
        self._upstream = upstream
        self._issuer: str = upstream.issuer
        self._client_id: str = upstream.client_id
        self._http = http
        self._leeway = leeway
        self._clock = clock
        # Without `openid` the upstream would answer with plain OAuth and no ID token.
        self._scope = " ".join(dict.fromkeys(["openid", *upstream.scopes]))
        self._metadata: dict[str, Any] | None = None
        self._metadata_lock = asyncio.Lock()
        self._jwks = UpstreamJwks(http, self.name, self._jwks_uri)

    def _client(self) -> AbstractAsyncContextManager[Any]:
        secret = self._upstream.client_secret.get_secret_value() if self._upstream.client_secret else None
        return oauth_client(
            self._http,
            client_id=self._client_id,
            client_secret=secret,
            auth_method="client_secret_basic" if secret else "none",
            scope=self._scope,
        )

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once; a failed fetch is retried on the next login."""
        async with self._metadata_lock:
            if self._metadata is None:
                self._metadata = await self._discover()
            return self._metadata

    async def _discover(self) -> dict[str, Any]:
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await get_json(self._http, self.name, url, "discovery document")
        if not isinstance(document, dict):
            raise UpstreamUnavailableError(self.name, f"the discovery document at {url} is not a JSON object")
        # OpenID Connect Discovery §4.3: the issuer must be exactly the one configured, or a
        # compromised or mistyped discovery URL could make us accept another issuer's tokens.
        if document.get("issuer") != self._issuer:
            raise IssuerMismatchError(
                self.name, f"discovery at {url} names issuer {document.get('issuer')!r}, expected exactly {self._issuer!r}"
            )
        missing = [name for name in _REQUIRED_METADATA if not isinstance(document.get(name), str)]
        if missing:
            raise UpstreamUnavailableError(self.name, f"the discovery document at {url} lacks {', '.join(missing)}")
        return document

    async def _jwks_uri(self) -> str:
        return str((await self.metadata())["jwks_uri"])

    async def _key_for(self, kid: str | None, alg: str) -> Key:
        return await self._jwks.key_for(kid, alg)

    async def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        metadata = await self.metadata()
        nonce = new_secret()
        async with self._client() as client:
            url, saved = authorization_url(client, metadata["authorization_endpoint"], redirect_uri, nonce=nonce)
        return url, {**saved, "nonce": nonce, "upstream": self.name}

    async def complete(self, redirect_uri: str, params: dict[str, str], saved: dict[str, Any]) -> UpstreamProfile:
        metadata = await self.metadata()
        code = check_callback(
            self.name,
            params,
            saved,
            issuer=self._issuer,
            iss_required=metadata.get("authorization_response_iss_parameter_supported") is True,
        )
        nonce, verifier = saved.get("nonce"), saved.get("code_verifier")
        if not isinstance(nonce, str) or not isinstance(verifier, str):
            raise StateMismatchError(self.name, "the saved login state lacks the nonce or PKCE verifier")
        async with self._client() as client:
            token = await exchange_code(
                client, self.name, metadata["token_endpoint"], code=code, redirect_uri=redirect_uri, code_verifier=verifier
            )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidIdTokenError(self.name, "the token response has no id_token (is `openid` among the scopes?)")
        expect = IdTokenExpectations(
            upstream=self.name,
            issuer=self._issuer,
            client_id=self._client_id,
            nonce=nonce,
            algorithms=tuple(self._upstream.algorithms),
            leeway=self._leeway,
        )
        claims = await verify_id_token(id_token, expect, self._key_for, now=self._clock())
        if not (claims.get("email") and claims.get("name")) and isinstance(metadata.get("userinfo_endpoint"), str):
            claims = await self._with_userinfo(claims, metadata["userinfo_endpoint"], token["access_token"])
        return UpstreamProfile(
            upstream=self.name,
            subject=claims["sub"],
            name=_text(claims.get("name")),
            email=_text(claims.get("email")),
            email_verified=_text(claims.get("email")) is not None and claims.get("email_verified") in (True, "true"),
            preferred_username=_text(claims.get("preferred_username")),
        )

    async def _with_userinfo(self, claims: dict[str, Any], endpoint: str, access_token: str) -> dict[str, Any]:
        info = await get_json(self._http, self.name, endpoint, "userinfo endpoint", headers={"Authorization": f"Bearer {access_token}"})
        if not isinstance(info, dict):
            raise UpstreamUnavailableError(self.name, f"the userinfo at {endpoint} is not a JSON object")
        # OIDC Core §5.3.4: userinfo about someone else must not be mixed into this login.
        if info.get("sub") != claims["sub"]:
            raise InvalidIdTokenError(self.name, "the userinfo response is about another subject than the ID token")
        merged = dict(claims)
        if not claims.get("email") and info.get("email"):
            # E-mail and its verification travel together, from one source.
            merged["email"], merged["email_verified"] = info.get("email"), info.get("email_verified")
        for name in ("name", "preferred_username"):
            if not claims.get(name) and info.get(name):
                merged[name] = info[name]
        return merged


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
