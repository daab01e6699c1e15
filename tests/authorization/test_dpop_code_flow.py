"""Code + PKCE with DPoP (RFC 9449 §5, §10): the public client's refresh token is bound to its key."""

from __future__ import annotations

import httpx

from shared.dpop import DPoPKey
from tests.support.password_login import PASSWORD, REDIRECT_URI, LoginSetup
from tests.support.browser import Browser
from tests.support.token_service import decode_segment

SCOPE = "openid profile email offline_access notes:read"


def token_call(setup: LoginSetup, data: dict[str, str], key: DPoPKey | None) -> httpx.Response:
    headers = {"DPoP": key.proof("POST", f"{setup.url}/token")} if key is not None else {}
    return httpx.post(f"{setup.url}/token", data={"client_id": setup.client_id, **data}, headers=headers)


def sign_in_with(setup: LoginSetup, browser: Browser, key: DPoPKey, **authorize_extra: str) -> httpx.Response:
    result = browser.login(setup.url, setup.client_id, REDIRECT_URI, setup.username, PASSWORD, scope=SCOPE, extra=authorize_extra)
    data = {"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "code_verifier": result.verifier}
    return token_call(setup, data, key)


def test_bound_refresh_token_needs_a_proof_by_the_same_key(setup: LoginSetup, browser: Browser) -> None:
    key = DPoPKey.generate("ES256")
    tokens = sign_in_with(setup, browser, key)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "DPoP"
    assert decode_segment(body["access_token"], 1)["cnf"] == {"jkt": key.jkt}

    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    without = token_call(setup, refresh, None)
    other_key = token_call(setup, refresh, DPoPKey.generate("ES256"))
    same_key = token_call(setup, refresh, key)

    assert without.status_code == 400
    assert without.json() == {
        "error": "invalid_dpop_proof",
        "error_description": f"the refresh token is bound to DPoP key {key.jkt}; send a DPoP proof signed by that key",
    }
    assert other_key.status_code == 400 and "but the proof is signed by key" in other_key.json()["error_description"]
    # The refused attempts did not use the token up: the holder of the key still refreshes.
    assert same_key.status_code == 200, same_key.text
    assert same_key.json()["token_type"] == "DPoP"
    assert decode_segment(same_key.json()["access_token"], 1)["cnf"] == {"jkt": key.jkt}
    # And the successor is bound too.
    successor = {"grant_type": "refresh_token", "refresh_token": same_key.json()["refresh_token"]}
    assert token_call(setup, successor, None).json()["error"] == "invalid_dpop_proof"
    # The grace path (the just-rotated token presented again) asks for the key as well ...
    assert token_call(setup, refresh, None).json()["error"] == "invalid_dpop_proof"
    # ... and with it returns the same successor, as for any second tab.
    assert token_call(setup, refresh, key).json()["refresh_token"] == same_key.json()["refresh_token"]


def test_dpop_jkt_at_authorize_binds_the_code(setup: LoginSetup, browser: Browser) -> None:
    key = DPoPKey.generate("EdDSA")
    refused = sign_in_with(setup, browser, DPoPKey.generate("EdDSA"), dpop_jkt=key.jkt)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert f"the authorization code is bound to DPoP key {key.jkt} (dpop_jkt)" in refused.json()["error_description"]

    second_browser = Browser()  # the first one is signed in already and would skip the login page
    try:
        accepted = sign_in_with(setup, second_browser, key, dpop_jkt=key.jkt)
    finally:
        second_browser.close()
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["token_type"] == "DPoP"


def test_malformed_dpop_jkt_is_refused_at_authorize(setup: LoginSetup, browser: Browser) -> None:
    location = browser.authorize(setup.url, setup.client_id, REDIRECT_URI, extra={"dpop_jkt": "not-a-thumbprint"})
    assert isinstance(location, str) and "error=invalid_request" in location and "dpop_jkt" in location


def test_userinfo_takes_the_bound_token_with_a_proof_only(setup: LoginSetup, browser: Browser) -> None:
    key = DPoPKey.generate("ES256")
    token = sign_in_with(setup, browser, key).json()["access_token"]
    url = f"{setup.url}/userinfo"

    with_proof = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, access_token=token)})
    as_bearer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})

    assert with_proof.status_code == 200, with_proof.text
    assert with_proof.json()["sub"] == setup.user_id
    assert as_bearer.status_code == 401 and "DPoP-bound" in as_bearer.json()["error_description"]
