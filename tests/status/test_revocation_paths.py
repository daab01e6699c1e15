"""Each way of revoking flips exactly the status bits of the tokens it ends, and no others."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.revocation.conftest import LOGIN_SCOPE, Deployment, introspect, machine_token, refresh, revoke, userinfo
from tests.status.conftest import revoked_bits, status_of, wait_for
from tests.support.browser import Browser, add_user
from tests.support.password_login import PASSWORD, REDIRECT_URI
from tests.users.test_users_cli import run_cli


def sign_in_as(deployment: Deployment, username: str, client_id: str) -> dict[str, str]:
    browser = Browser()
    try:
        result = browser.login(deployment.url, client_id, REDIRECT_URI, username, PASSWORD, scope=LOGIN_SCOPE)
        data = {"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "code_verifier": result.verifier, "client_id": client_id}
        response = httpx.post(f"{deployment.url}/token", data=data)
        assert response.status_code == 200, response.text
        return dict(response.json())
    finally:
        browser.close()


def indices(*tokens: str) -> set[int]:
    return {status_of(token)[1] for token in tokens}


def bits_become(deployment: Deployment, uri: str, expected: set[int]) -> bool:
    """The served list shows exactly `expected` (other instances and the CLI are seen within a poll)."""
    return wait_for(lambda: revoked_bits(deployment.url, uri) == expected)


def test_revoking_a_refresh_token_flips_every_access_token_of_its_family(deployment: Deployment) -> None:
    spa = deployment.spa
    first = sign_in_as(deployment, "alice", spa)
    second = refresh(deployment.url, first["refresh_token"], spa).json()
    third = refresh(deployment.url, second["refresh_token"], spa).json()
    other_family = sign_in_as(deployment, "alice", spa)
    machine = machine_token(deployment.url, deployment.resource_server)
    uri = status_of(first["access_token"])[0]

    assert revoke(deployment.url, third["refresh_token"], client_id=spa).status_code == 200
    assert bits_become(deployment, uri, indices(first["access_token"], second["access_token"], third["access_token"]))
    assert not indices(other_family["access_token"], machine) & revoked_bits(deployment.url, uri)


def test_replaying_a_rotated_refresh_token_flips_its_familys_bits(deployment: Deployment) -> None:
    spa = deployment.spa
    first = sign_in_as(deployment, "alice", spa)
    second = refresh(deployment.url, first["refresh_token"], spa).json()
    bystander = sign_in_as(deployment, "alice", spa)
    # Once the successor has moved on, the first token is past its grace: presenting it is reuse.
    refresh(deployment.url, second["refresh_token"], spa)
    replay = refresh(deployment.url, first["refresh_token"], spa)
    assert replay.status_code == 400
    uri = status_of(first["access_token"])[0]
    flipped = revoked_bits(deployment.url, uri)
    assert indices(first["access_token"], second["access_token"]) <= flipped
    assert not indices(bystander["access_token"]) & flipped


def test_logout_with_revoke_refresh_tokens_flips_that_sessions_tokens(deployment: Deployment) -> None:
    browser = Browser()
    try:
        result = browser.login(deployment.url, deployment.spa, REDIRECT_URI, "alice", PASSWORD, scope=LOGIN_SCOPE)
        data = {"grant_type": "authorization_code", "code": result.params["code"], "redirect_uri": REDIRECT_URI, "code_verifier": result.verifier, "client_id": deployment.spa}
        tokens = httpx.post(f"{deployment.url}/token", data=data).json()
        elsewhere = sign_in_as(deployment, "alice", deployment.spa)  # another browser: another session
        response = browser.http.get(f"{deployment.url}/logout", params={"id_token_hint": tokens["id_token"], "revoke_refresh_tokens": "true"})
        assert response.status_code == 200
    finally:
        browser.close()
    uri = status_of(tokens["access_token"])[0]
    assert bits_become(deployment, uri, indices(tokens["access_token"]))
    assert not indices(elsewhere["access_token"]) & revoked_bits(deployment.url, uri)


def refused_by(output: str) -> tuple[int, str]:
    found = re.search(r"revoked (\d+) access tokens?; every API checking token status refuses them by (.+ UTC)", output)
    assert found, output
    return int(found.group(1)), found.group(2)


def test_users_revoke_tokens_flips_that_users_tokens_only(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_user(deployment.service.settings, "bob", PASSWORD)
    alice = [sign_in_as(deployment, "alice", deployment.spa) for _ in range(2)]
    alice_refreshed = refresh(deployment.url, alice[0]["refresh_token"], deployment.spa).json()
    bob = sign_in_as(deployment, "bob", deployment.spa)
    machine = machine_token(deployment.url, deployment.resource_server)
    alice_tokens = [alice[0]["access_token"], alice[1]["access_token"], alice_refreshed["access_token"]]

    code, out, err = run_cli(monkeypatch, capsys, deployment.service.settings, "users", "revoke-tokens", "alice")
    assert code == 0, err
    assert refused_by(out)[0] == 3 and "2 refresh token families revoked" in out
    uri = status_of(machine)[0]
    assert bits_become(deployment, uri, indices(*alice_tokens))
    assert not indices(bob["access_token"], machine) & revoked_bits(deployment.url, uri)
    # The service's own checks read the same bits: introspection and userinfo refuse them too.
    assert wait_for(lambda: introspect(deployment.url, alice[1]["access_token"], deployment.resource_server).json() == {"active": False})
    assert "revoked (status list" in userinfo(deployment.url, alice[1]["access_token"]).headers["www-authenticate"]
    assert introspect(deployment.url, bob["access_token"], deployment.resource_server).json()["active"] is True
    assert userinfo(deployment.url, bob["access_token"]).status_code == 200
    assert refresh(deployment.url, alice_refreshed["refresh_token"], deployment.spa).status_code == 400
    assert refresh(deployment.url, bob["refresh_token"], deployment.spa).status_code == 200


def test_users_disable_revokes_and_refuses_new_tokens(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = sign_in_as(deployment, "alice", deployment.spa)
    browser = Browser()
    try:
        # A code obtained before the account is disabled is not redeemed after.
        pending = browser.login(deployment.url, deployment.spa, REDIRECT_URI, "alice", PASSWORD, scope=LOGIN_SCOPE)
        code, out, err = run_cli(monkeypatch, capsys, deployment.service.settings, "users", "disable", "alice")
        assert code == 0, err
        assert "disabled" in out and refused_by(out)[0] == 1
        data = {"grant_type": "authorization_code", "code": pending.params["code"], "redirect_uri": REDIRECT_URI, "code_verifier": pending.verifier, "client_id": deployment.spa}
        redeemed = httpx.post(f"{deployment.url}/token", data=data)
        assert redeemed.status_code == 400 and "disabled" in redeemed.json()["error_description"]
    finally:
        browser.close()
    assert refresh(deployment.url, tokens["refresh_token"], deployment.spa).status_code == 400
    refused = Browser()
    try:
        page = refused.authorize(deployment.url, deployment.spa, REDIRECT_URI, scope=LOGIN_SCOPE)
        assert isinstance(page, httpx.Response)
        answer = refused.submit_password(page, "alice", PASSWORD, REDIRECT_URI)
        assert isinstance(answer, httpx.Response) and answer.status_code == 403 and "This account is disabled" in answer.text
    finally:
        refused.close()
    uri, idx = status_of(tokens["access_token"])
    assert bits_become(deployment, uri, {idx})

    code, out, _ = run_cli(monkeypatch, capsys, deployment.service.settings, "users", "enable", "alice")
    assert code == 0 and "enabled" in out
    assert sign_in_as(deployment, "alice", deployment.spa)["access_token"]


def test_clients_revoke_tokens_and_remove_flip_that_clients_tokens_only(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = [machine_token(deployment.url, deployment.resource_server) for _ in range(3)]
    user = sign_in_as(deployment, "alice", deployment.spa)
    other_id, other_secret = deployment.service.add_client(grant_types=["client_credentials"], scope="notes:read", audience="http://127.0.0.1:8001")
    assert other_secret is not None
    other = machine_token(deployment.url, (other_id, other_secret))
    uri = status_of(user["access_token"])[0]

    code, out, err = run_cli(monkeypatch, capsys, deployment.service.settings, "clients", "revoke-tokens", deployment.resource_server[0])
    assert code == 0, err
    assert refused_by(out)[0] == 3
    assert bits_become(deployment, uri, indices(*machine))

    code, out, err = run_cli(monkeypatch, capsys, deployment.service.settings, "clients", "remove", other_id)
    assert code == 0, err
    assert f"removed client {other_id}" in out and refused_by(out)[0] == 1
    assert bits_become(deployment, uri, indices(*machine, other))
    assert status_of(user["access_token"])[1] not in revoked_bits(deployment.url, uri)
    code, _, err = run_cli(monkeypatch, capsys, deployment.service.settings, "users", "revoke-tokens", "nobody")
    assert code == 1 and "no user" in err
