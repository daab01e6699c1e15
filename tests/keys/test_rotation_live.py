"""Over real HTTP: a planned rotation never breaks a verifier that honours our JWKS cache headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

import token_service.runtime as runtime_module
from tests.keys.conftest import with_keys
from tests.support.token_service import (
    RunningTokenService,
    decode_segment,
    issuer_settings,
    running_token_service,
)
from token_service.keys.lifecycle import NewKey

T = TypeVar("T")


def eventually(condition: Callable[[], T | None], what: str) -> T:
    # The server picks key changes up on its polling loop; wait for the state, not a duration.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"the running service never reached: {what}")


def client_token(service: RunningTokenService, client: tuple[str, str | None]) -> str:
    client_id, secret = client
    response = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or ""))
    response.raise_for_status()
    return str(response.json()["access_token"])


def jwks_listing(url: str, kid: str) -> dict[str, Any] | None:
    document: dict[str, Any] = httpx.get(url).json()
    return document if kid in {k["kid"] for k in document["keys"]} else None


def verifies(token: str, jwks: dict[str, Any]) -> bool:
    try:
        jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])  # type: ignore[arg-type]
    except (JoseError, ValueError):
        return False
    return True


def test_tokens_verify_across_a_planned_rotation_with_the_jwks_fetched_before_activation(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_module, "KEY_POLL_SECONDS", 0.1)
    settings = issuer_settings(make_settings)
    with running_token_service(settings) as service:
        client = service.add_client(scope="notes:read", audience="http://127.0.0.1:8001")
        jwks_url = f"{service.url}/jwks.json"
        old_token = client_token(service, client)
        jwks_before_rotation = httpx.get(jwks_url).json()

        start = int(time.time())
        (published,) = with_keys(settings, lambda keys: keys.rotate(activate_now=False, now=start))
        assert isinstance(published, NewKey) and published.kid
        new_kid = published.kid
        # A verifier refreshing its cache during the pre-publication period gets both keys.
        jwks_cached = eventually(lambda: jwks_listing(jwks_url, new_kid), "new key published")
        assert decode_segment(client_token(service, client), 0)["kid"] != new_kid  # published, not yet signing

        with_keys(settings, lambda keys: keys.advance(start + keys.timings.prepublish))
        new_token = eventually(
            lambda: token if decode_segment(token := client_token(service, client), 0)["kid"] == new_kid else None,
            "new key signing",
        )

        assert verifies(old_token, jwks_cached) and verifies(new_token, jwks_cached)
        assert verifies(old_token, httpx.get(jwks_url).json())  # the retired key is still published
        # Why pre-publication matters: a JWKS from before the rotation cannot verify the new key's tokens.
        assert verifies(old_token, jwks_before_rotation) and not verifies(new_token, jwks_before_rotation)
