"""private_key_jwt (RFC 7523): clients prove who they are with a key; every refusal says why."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import OKPKey

from tests.support.client_keys import ClientKey, ClientKeyServer, new_key, public_jwks, sign_assertion
from tests.support.live_server import LiveServer
from tests.support.token_service import RunningTokenService
from token_service.clients.assertion import JWT_BEARER


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_client(service: RunningTokenService, audience: str, **fields: Any) -> str:
    client_id, _ = service.add_client(
        token_endpoint_auth_method="private_key_jwt", grant_types=["client_credentials"], scope="notes:read notes:write", audience=audience, **fields
    )
    return client_id


def token_request(service: RunningTokenService, assertion: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion, **extra}
    return httpx.post(f"{service.url}/token", data=data)


def refused(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    return str(body["error_description"])


def test_authlib_client_with_a_key_gets_a_token_the_api_accepts(
    key_service: RunningTokenService, notes_api: LiveServer, key_server: ClientKeyServer
) -> None:
    key = new_key("ES256")
    key_server.keys = [key]
    client_id = key_client(key_service, notes_api.url, jwks_uri=key_server.url)
    token_endpoint = f"{key_service.url}/token"
    with OAuth2Client(client_id, key, token_endpoint_auth_method="private_key_jwt") as client:
        client.register_client_auth_method(PrivateKeyJWT(token_endpoint, alg="ES256", headers={"kid": key.kid}))
        token = client.fetch_token(token_endpoint, grant_type="client_credentials", scope="notes:read")
    listed = httpx.get(f"{notes_api.url}/notes", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert listed.status_code == 200, listed.text
    me = httpx.get(f"{notes_api.url}/me", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert me["client_id"] == client_id


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"])
def test_every_allowed_algorithm_authenticates(key_service: RunningTokenService, notes_api: LiveServer, alg: str) -> None:
    key = new_key("EdDSA" if alg == "Ed25519" else alg)
    client_id = key_client(key_service, notes_api.url, jwks=public_jwks(key))
    # A key registered as EdDSA also verifies assertions under its RFC 9864 name, Ed25519.
    signer = OKPKey.import_key({k: v for k, v in key.as_dict(private=True).items() if k != "alg"}) if alg == "Ed25519" else key
    response = token_request(key_service, sign_assertion(signer, client_id, key_service.url, alg=alg, header={"kid": key.kid}))
    assert response.status_code == 200, response.text


def test_discovery_lists_private_key_jwt_and_its_algorithms(key_service: RunningTokenService) -> None:
    metadata = httpx.get(f"{key_service.url}/.well-known/openid-configuration").json()
    for endpoint in ("token", "revocation", "introspection"):
        assert "private_key_jwt" in metadata[f"{endpoint}_endpoint_auth_methods_supported"]
        assert set(metadata[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]) == {"RS256", "PS256", "ES256", "EdDSA", "Ed25519"}


@pytest.fixture(scope="module")
def inline_client(key_service: RunningTokenService) -> tuple[str, ClientKey]:
    key = new_key("ES256")
    return key_client(key_service, "http://127.0.0.1:8001", jwks=public_jwks(key)), key


def test_expired_assertion_says_how_long_ago(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    now = int(time.time())
    reason = refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, iat=now - 200, exp=now - 100)))
    assert "client_assertion expired 10" in reason and "s ago" in reason


def test_assertion_from_the_future_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    now = int(time.time())
    reason = refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, iat=now + 600, exp=now + 700)))
    assert reason.startswith("client_assertion's iat is 59") or reason.startswith("client_assertion's iat is 600")
    assert "s in the future (allowed clock skew 30 s); check the client's clock" in reason


def test_too_long_lived_assertion_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    reason = refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, lifetime=86400)))
    assert "at most 3600 s are accepted" in reason


def test_missing_exp_and_jti_are_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    assert "exp is required" in refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, exp=None)))
    assert "jti is required" in refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, jti=None)))


def test_wrong_audience_names_what_was_expected(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    reason = refused(token_request(key_service, sign_assertion(key, client_id, "https://other.example.com")))
    assert reason.startswith(f"aud was 'https://other.example.com', expected the issuer '{key_service.url}'")


def test_token_endpoint_url_is_an_accepted_audience(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    assert token_request(key_service, sign_assertion(key, client_id, [f"{key_service.url}/token", "x"])).status_code == 200


def test_iss_or_sub_other_than_the_client_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    reason = refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, iss="someone-else")))
    assert reason == f"iss was 'someone-else', expected the client_id {client_id!r} (RFC 7523 §3)"
    reason = refused(token_request(key_service, sign_assertion(key, client_id, key_service.url, sub="someone-else"), client_id=client_id))
    assert "differs from the client_assertion's sub 'someone-else'" in reason


def test_replayed_assertion_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    assertion = sign_assertion(key, client_id, key_service.url)
    assert token_request(key_service, assertion).status_code == 200
    reason = refused(token_request(key_service, assertion))
    assert "was already used; every client_assertion needs a new jti" in reason


def test_hs256_signed_with_the_public_key_is_refused(key_service: RunningTokenService) -> None:
    key = new_key("RS256")
    client_id = key_client(key_service, "http://127.0.0.1:8001", jwks=public_jwks(key))
    # The classic confusion attack: the public key, known to anyone, used as an HMAC secret.
    secret = key.as_pem(private=False)
    header = b64(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    now = int(time.time())
    payload = b64(json.dumps({"iss": client_id, "sub": client_id, "aud": key_service.url, "exp": now + 60, "jti": uuid.uuid4().hex}).encode())
    signature = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    reason = refused(token_request(key_service, f"{header}.{payload}.{signature}"))
    assert reason.startswith("client_assertion is signed with HS256, which is refused")


def test_unsigned_assertion_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, _ = inline_client
    header = b64(json.dumps({"alg": "none"}).encode())
    payload = b64(json.dumps({"iss": client_id, "sub": client_id, "aud": key_service.url, "exp": int(time.time()) + 60, "jti": "x"}).encode())
    reason = refused(token_request(key_service, f"{header}.{payload}."))
    assert reason.startswith("client_assertion is signed with none, which is refused (an unsigned JWT)")


def test_a_payload_nested_past_the_json_parser_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    header = b64(json.dumps({"alg": "ES256"}).encode())
    reason = refused(token_request(key_service, f"{header}.{b64(b'[' * 5000)}.c2ln"))
    assert reason.startswith("client_assertion cannot be decoded")


def test_assertion_signed_by_another_key_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    impostor = new_key("ES256")
    reason = refused(token_request(key_service, sign_assertion(impostor, client_id, key_service.url, header={"kid": key.kid})))
    assert reason.startswith(f"client_assertion's signature does not verify with key {key.kid!r}")


def test_mixing_a_secret_and_an_assertion_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    reason = refused(token_request(key_service, sign_assertion(key, client_id, key_service.url), client_secret="x" * 40))
    assert "both a client secret and a client_assertion" in reason


def test_wrong_method_for_the_client_is_refused(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    reason = refused(httpx.post(f"{key_service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, "x" * 40)))
    assert reason.startswith(f"client {client_id!r} authenticates with private_key_jwt")
    secret_client, _ = key_service.add_client(scope="notes:read")
    reason = refused(token_request(key_service, sign_assertion(key, secret_client, key_service.url)))
    assert reason.startswith(f"client {secret_client!r} is registered for client_secret_basic, not private_key_jwt")


def test_unknown_kid_is_refetched_once_then_refused(key_service: RunningTokenService, key_server: ClientKeyServer) -> None:
    old, new = new_key("ES256"), new_key("ES256")
    key_server.keys = [old]
    client_id = key_client(key_service, "http://127.0.0.1:8001", jwks_uri=key_server.url)
    assert token_request(key_service, sign_assertion(old, client_id, key_service.url)).status_code == 200
    fetched = key_server.requests
    # The client rotates: the new key is published, the cached set does not have it yet.
    key_server.keys = [old, new]
    assert token_request(key_service, sign_assertion(new, client_id, key_service.url)).status_code == 200
    assert key_server.requests == fetched + 1
    stranger = new_key("ES256")
    reason = refused(token_request(key_service, sign_assertion(stranger, client_id, key_service.url)))
    assert reason.startswith(f"kid {stranger.kid!r} is not in the client's JWKS at {key_server.url}")
    # Within the cooldown a made-up kid does not make the service fetch again.
    refused(token_request(key_service, sign_assertion(new_key("ES256"), client_id, key_service.url)))
    assert key_server.requests <= fetched + 2


def test_revocation_and_introspection_accept_a_key(key_service: RunningTokenService, inline_client: tuple[str, ClientKey]) -> None:
    client_id, key = inline_client
    token = token_request(key_service, sign_assertion(key, client_id, key_service.url)).json()["access_token"]
    auth = {"client_assertion_type": JWT_BEARER}
    introspected = httpx.post(
        f"{key_service.url}/introspect", data={"token": token, "client_assertion": sign_assertion(key, client_id, key_service.url), **auth}
    )
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    revoked = httpx.post(f"{key_service.url}/revoke", data={"token": token, "client_assertion": sign_assertion(key, client_id, key_service.url), **auth})
    assert revoked.status_code == 200
    again = httpx.post(
        f"{key_service.url}/introspect", data={"token": token, "client_assertion": sign_assertion(key, client_id, key_service.url), **auth}
    )
    assert again.json() == {"active": False}


def test_a_refusal_is_logged_with_client_and_reason(
    key_service: RunningTokenService, inline_client: tuple[str, ClientKey], caplog: pytest.LogCaptureFixture
) -> None:
    client_id, key = inline_client
    caplog.set_level("WARNING", logger="token_service.clients")
    refused(token_request(key_service, sign_assertion(key, client_id, "https://elsewhere.example.com")))
    (record,) = [r for r in caplog.records if r.getMessage() == "client authentication refused"]
    assert record.client_id == client_id and record.auth_method == "private_key_jwt"  # type: ignore[attr-defined]
    assert record.reason.startswith("aud was 'https://elsewhere.example.com'")  # type: ignore[attr-defined]
