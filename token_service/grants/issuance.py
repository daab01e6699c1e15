"""The token responses the grants return: access token, ID token when `openid`, refresh token when granted."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from token_service.clients.models import Client
from token_service.clock import Clock, epoch_seconds
from token_service.settings import TokenServiceSettings
from token_service.status import StatusIndices
from token_service.tokens.access import ACCESS_TOKEN_TYP, access_token_claims, new_jti, token_type_and_binding
from token_service.tokens.id_token import ID_TOKEN_TYP, id_token_claims
from token_service.tokens.signer import TokenSigner
from token_service.users.models import User


class Grant(Protocol):
    """One grant type of the token endpoint (RFC 6749 §4): the client is already authenticated
    and registered for this grant type; returns the token response body. `dpop_jkt` is the
    thumbprint of the request's DPoP proof key the tokens are bound to (RFC 9449), or None."""

    def __call__(self, client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> Awaitable[dict[str, Any]]: ...


def wants_refresh_token(client: Client, scopes: frozenset[str]) -> bool:
    # OIDC Core §11: refresh tokens for offline access are requested with `offline_access`;
    # first-party clients registered for the refresh grant get them without asking.
    return "refresh_token" in client.grant_types and ("offline_access" in scopes or client.first_party)


@dataclass(frozen=True)
class IssuedAccess:
    """A user token response and what a replayed code must revoke: the access token's jti and exp."""

    response: dict[str, Any]
    jti: str
    exp: int


class TokenMinter:
    """Builds and signs access and ID tokens on the service's clock."""

    def __init__(
        self,
        signer: TokenSigner,
        *,
        issuer: str,
        userinfo_audience: str,
        access_token_ttl: int,
        id_token_ttl: int,
        clock: Clock,
        status: StatusIndices | None = None,
    ) -> None:
        self._signer = signer
        self._status = status
        self.issuer = issuer
        self._userinfo_audience = userinfo_audience
        self.access_token_ttl = access_token_ttl
        self._id_token_ttl = id_token_ttl
        self._clock = clock

    @classmethod
    def from_settings(cls, signer: TokenSigner, settings: TokenServiceSettings, clock: Clock, status: StatusIndices | None = None) -> TokenMinter:
        return cls(
            signer,
            issuer=settings.issuer,
            userinfo_audience=settings.endpoint("/userinfo"),
            access_token_ttl=settings.access_token_ttl,
            id_token_ttl=settings.id_token_ttl,
            clock=clock,
            status=status,
        )

    def _with_status(
        self, binding: dict[str, Any] | None, *, jti: str, client_id: str, user_id: str | None, family_id: str | None, exp: int
    ) -> dict[str, Any] | None:
        """The binding claims plus the token's status list entry (draft-ietf-oauth-status-list §6.1)."""
        if self._status is None:
            return binding
        status = self._status.assign(jti=jti, client_id=client_id, user_id=user_id, family_id=family_id, expires_at=exp)
        return {**(binding or {}), "status": status}

    def client_token(self, client: Client, *, scopes: frozenset[str], audience: str, dpop_jkt: str | None) -> dict[str, Any]:
        """RFC 6749 §4.4: an access token whose subject is the client itself."""
        token_type, binding = token_type_and_binding(dpop_jkt)
        now, jti = epoch_seconds(self._clock), new_jti()
        extra = self._with_status(binding, jti=jti, client_id=client.client_id, user_id=None, family_id=None, exp=now + self.access_token_ttl)
        claims = access_token_claims(
            issuer=self.issuer,
            subject=client.client_id,
            client_id=client.client_id,
            audience=audience,
            scopes=scopes,
            now=now,
            ttl=self.access_token_ttl,
            jti=jti,
            extra=extra,
        )
        token, _kid = self._signer.sign(claims, ACCESS_TOKEN_TYP)
        response: dict[str, Any] = {"access_token": token, "token_type": token_type, "expires_in": self.access_token_ttl}
        if scopes:
            response["scope"] = " ".join(sorted(scopes))
        return response

    def user_tokens(
        self,
        *,
        client: Client,
        user: User,
        scopes: frozenset[str],
        audience: str,
        auth_time: int,
        nonce: str | None,
        refresh_token: str | None,
        dpop_jkt: str | None,
        family_id: str | None = None,
        jti: str | None = None,
        now: int | None = None,
    ) -> IssuedAccess:
        """`jti` and `now` are chosen here unless the caller reserved them (code redemption records them first)."""
        now = epoch_seconds(self._clock) if now is None else now
        token_type, binding = token_type_and_binding(dpop_jkt)
        jti = jti or new_jti()
        # With `openid` the token is also good at our UserInfo endpoint (RFC 9068 §3: aud may list several).
        # A sign-in-only client's token is for UserInfo alone (resources/targets.py).
        also_userinfo = "openid" in scopes and audience != self._userinfo_audience
        audiences: str | list[str] = [audience, self._userinfo_audience] if also_userinfo else audience
        claims = access_token_claims(
            issuer=self.issuer,
            subject=user.id,
            client_id=client.client_id,
            audience=audiences,
            scopes=scopes,
            now=now,
            ttl=self.access_token_ttl,
            jti=jti,
            auth_time=auth_time,
            extra=self._with_status(binding, jti=jti, client_id=client.client_id, user_id=user.id, family_id=family_id, exp=now + self.access_token_ttl),
        )
        access_token, _ = self._signer.sign(claims, ACCESS_TOKEN_TYP)
        response: dict[str, Any] = {
            "access_token": access_token,
            "token_type": token_type,
            "expires_in": self.access_token_ttl,
            "scope": " ".join(sorted(scopes)),
        }
        if "openid" in scopes:
            id_claims = id_token_claims(
                issuer=self.issuer,
                user=user,
                client_id=client.client_id,
                now=now,
                ttl=self._id_token_ttl,
                auth_time=auth_time,
                nonce=nonce,
                access_token=access_token,
                scopes=scopes,
            )
            response["id_token"], _ = self._signer.sign(id_claims, ID_TOKEN_TYP)
        if refresh_token is not None:
            response["refresh_token"] = refresh_token
        return IssuedAccess(response, jti, claims["exp"])
