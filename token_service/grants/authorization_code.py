"""RFC 6749 §4.1.3: redeem an authorization code (with PKCE) for tokens."""

from __future__ import annotations

import logging
from typing import Any

from token_service.clients.models import Client
from token_service.errors import InvalidDPoPProof, InvalidGrant, InvalidRequest
from token_service.grants.codes import AuthorizationCodes
from token_service.grants.issuance import TokenMinter, wants_refresh_token
from token_service.grants.pkce import verifier_matches
from token_service.clock import Clock, epoch_seconds
from token_service.resources.targets import ResourceTargets, split_resources
from token_service.status import StatusRevocations
from token_service.tokens.access import new_jti
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.refresh import RefreshTokens, new_family_id
from token_service.users.directory import UserDirectory

log = logging.getLogger("token_service.grants")


class AuthorizationCodeGrant:
    def __init__(
        self,
        codes: AuthorizationCodes,
        users: UserDirectory,
        refresh_tokens: RefreshTokens,
        denylist: AccessTokenDenyList,
        minter: TokenMinter,
        targets: ResourceTargets,
        clock: Clock,
        status: StatusRevocations | None = None,
    ) -> None:
        self._status = status
        self._targets = targets
        self._codes = codes
        self._users = users
        self._refresh_tokens = refresh_tokens
        self._denylist = denylist
        self._minter = minter
        self._clock = clock

    async def _revoke_replayed_code(self, code: str) -> bool:
        produced = await self._codes.replay_of(code)
        if produced is None:
            return False
        # RFC 6749 §4.1.2: a second use of a code SHOULD revoke the tokens issued from it.
        if produced.get("family_id"):
            await self._refresh_tokens.revoke_family(produced["family_id"])
        if produced.get("jti"):
            if self._status is not None:
                await self._status.revoke_token(produced["jti"])
            fallback_exp = epoch_seconds(self._clock) + self._minter.access_token_ttl
            await self._denylist.add(produced["jti"], int(produced.get("exp", fallback_exp)))
        log.warning("authorization code replayed; the tokens it produced are revoked")
        return True

    async def __call__(self, client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> dict[str, Any]:
        code = params.get("code")
        if not code:
            raise InvalidRequest("code is required")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise InvalidRequest("redirect_uri is required (it must equal the one sent to /authorize)")
        verifier = params.get("code_verifier")
        if not verifier:
            raise InvalidRequest("code_verifier is required (PKCE, RFC 7636)")
        # The ids of what this redemption issues are chosen before the code is consumed, so the
        # consume records them in the same step (one store round trip, and a replay racing the
        # issuance still revokes them). If a check below refuses the code, they name nothing,
        # and revoking them on a replay changes nothing.
        now = epoch_seconds(self._clock)
        jti, family_id = new_jti(), new_family_id()
        grant = await self._codes.redeem(code, {"family_id": family_id, "jti": jti, "exp": now + self._minter.access_token_ttl})
        if grant is None:
            if await self._revoke_replayed_code(code):
                raise InvalidGrant("the authorization code was already used; the tokens issued from it are revoked")
            raise InvalidGrant("the authorization code is invalid or expired")
        # From here the code is consumed: a failed check below does not leave it usable.
        if grant.client_id != client.client_id:
            raise InvalidGrant("the authorization code was issued to another client")
        if grant.redirect_uri != redirect_uri:
            raise InvalidGrant("redirect_uri differs from the one in the authorization request")
        if not verifier_matches(verifier, grant.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge (PKCE)")
        if grant.dpop_jkt is not None and dpop_jkt != grant.dpop_jkt:
            # RFC 9449 §10: the code was bound to a key at /authorize.
            found = "no DPoP proof" if dpop_jkt is None else f"a proof by key {dpop_jkt}"
            raise InvalidDPoPProof(f"the authorization code is bound to DPoP key {grant.dpop_jkt} (dpop_jkt), but the request has {found}")
        user = await self._users.get(grant.user_id)
        if user is None:
            raise InvalidGrant("the user of this authorization code no longer exists")
        if user.disabled:
            raise InvalidGrant("the user of this authorization code is disabled")
        scopes = frozenset(grant.scope.split())
        # RFC 8707 §2.2: the token request's `resource` picks one of those the user authorized.
        target = (await self._targets.rules()).for_token(client, split_resources(grant.resource), params.get("resource"), scopes)
        refresh_token = None
        if wants_refresh_token(client, scopes):
            _, refresh_token = await self._refresh_tokens.start_family(
                family_id=family_id,
                client_id=client.client_id,
                user_id=user.id,
                scope=grant.scope,
                resource=grant.resource,
                auth_time=grant.auth_time,
                session_id_hash=grant.session_id_hash,
                # RFC 9449 §5: a public client's refresh token is bound to its DPoP key; a confidential
                # client's stays bound to its client authentication.
                dpop_jkt=dpop_jkt if client.public else None,
            )
        issued = self._minter.user_tokens(
            client=client,
            user=user,
            scopes=target.scopes,
            audience=target.audience,
            auth_time=grant.auth_time,
            nonce=grant.nonce,
            refresh_token=refresh_token,
            dpop_jkt=dpop_jkt,
            family_id=family_id if refresh_token is not None else None,
            jti=jti,
            now=now,
        )
        return issued.response
