"""A code replayed while its first redemption is still issuing tokens revokes what that redemption issues.

The redemption records the ids of the tokens it will issue in the same atomic step that
consumes the code, so there is no moment in which the code is gone but a replay cannot
tell what to revoke (RFC 6749 §4.1.2, RFC 9700 §4.5).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from token_service.clients.models import Client
from token_service.errors import InvalidGrant
from token_service.grants.codes import CodeGrant
from token_service.observability.metrics import TokenServiceMetrics
from token_service.runtime import Runtime, open_runtime
from token_service.services import Services, build_services
from token_service.settings import TokenServiceSettings
from token_service.tokens.refresh import RefreshTokens

REDIRECT = "http://127.0.0.1:9/cb"
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def settings(make_settings: Any) -> TokenServiceSettings:
    clients = [{"client_id": "app", "public": True, "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": [REDIRECT],
                "scope": "openid notes:read offline_access", "audience": "https://api.example"}]
    made: TokenServiceSettings = make_settings(clients=clients)
    return made


@pytest.fixture
async def services(settings: TokenServiceSettings) -> AsyncIterator[tuple[Runtime, Services]]:
    runtime = await open_runtime(settings, migrate_now=True)
    try:
        yield runtime, build_services(settings, runtime, TokenServiceMetrics())
    finally:
        await runtime.close()


async def test_a_replay_during_issuance_revokes_what_the_first_redemption_issues(
    services: tuple[Runtime, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, built = services
    user = await built.users.add_local_user("alice", "correct horse battery staple")
    code = await built.codes.issue(CodeGrant(client_id="app", redirect_uri=REDIRECT, code_challenge=CHALLENGE, nonce=None, user_id=user.id,
                                             scope="openid notes:read offline_access", resource=None, auth_time=0, session_id_hash=None))
    client = await built.clients.find("app")
    assert isinstance(client, Client)
    authorization_code = built.token_endpoint_services.grants["authorization_code"]
    indices = built.token_endpoint_services.status_indices

    async def grant(client: Client, params: dict[str, str], *, dpop_jkt: str | None) -> dict[str, Any]:
        # As the token endpoint does: the grant's status list index is held around it.
        if indices is None:
            return await authorization_code(client, params, dpop_jkt=dpop_jkt)
        await indices.hold()
        try:
            return await authorization_code(client, params, dpop_jkt=dpop_jkt)
        finally:
            indices.release()

    params = {"code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}
    seen_mid_issuance: list[dict[str, Any] | None] = []
    start_family = RefreshTokens.start_family

    async def replay_arrives_first(self: RefreshTokens, **kwargs: Any) -> tuple[str, str]:
        # The code is consumed and the tokens not yet issued: what a replay reads now.
        seen_mid_issuance.append(await built.codes.replay_of(code))
        return await start_family(self, **kwargs)

    monkeypatch.setattr(RefreshTokens, "start_family", replay_arrives_first)
    first = await grant(client, params, dpop_jkt=None)
    family = await built.refresh_tokens.family_of(first["refresh_token"])
    assert family is not None
    claims = _claims_of(first["access_token"])
    assert seen_mid_issuance == [{"family_id": family.id, "jti": claims["jti"], "exp": claims["exp"]}]

    with pytest.raises(InvalidGrant, match="already used"):
        await grant(client, params, dpop_jkt=None)
    family = await built.refresh_tokens.family_of(first["refresh_token"])
    assert family is not None and family.revoked_at is not None


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims
