"""RFC 7591 registration and RFC 7592 management, as a client developer meets them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.registration.conftest import API, RegistrationService, registration_service
from tests.support.client_keys import new_key, public_jwks, sign_assertion
from token_service.clients.assertion import JWT_BEARER
from token_service.registration.service import SERVER_OWNED

REDIRECT = "http://127.0.0.1:9999/callback"
PUBLIC_APP = {"client_name": "Notes Desktop", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "openid notes:read", "audience": API}


def test_discovery_names_the_registration_endpoint(registrar: RegistrationService) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        document = httpx.get(registrar.url + path).json()
        assert document["registration_endpoint"] == f"{registrar.url}/register"
        assert document["client_id_metadata_document_supported"] is True


def test_a_public_client_registers_openly_and_gets_its_information(registrar: RegistrationService) -> None:
    response = registrar.register(PUBLIC_APP)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"].startswith("no-store")
    info = response.json()
    assert info["client_name"] == "Notes Desktop" and info["redirect_uris"] == [REDIRECT]
    assert info["token_endpoint_auth_method"] == "none" and "client_secret" not in info
    assert info["grant_types"] == ["authorization_code"] and info["response_types"] == ["code"]  # RFC 7591 §2 defaults
    assert info["registration_client_uri"] == f"{registrar.url}/register/{info['client_id']}"
    assert len(info["registration_access_token"]) >= 40 and isinstance(info["client_id_issued_at"], int)


def test_unknown_metadata_is_ignored_as_rfc_7591_says(registrar: RegistrationService) -> None:
    response = registrar.register({**PUBLIC_APP, "logo_uri": "https://app.example/logo.png", "software_id": "x", "contacts": ["a@b.c"]})
    assert response.status_code == 201, response.text
    assert "logo_uri" not in response.json()


def test_a_confidential_client_gets_a_secret_once_and_it_works(registrar: RegistrationService) -> None:
    body = {"client_name": "Batch", "grant_types": ["client_credentials"], "scope": "notes:read", "audience": API}
    info = registrar.register(body, registrar.initial_token()).json()
    assert info["token_endpoint_auth_method"] == "client_secret_basic" and info["client_secret_expires_at"] == 0
    token = httpx.post(f"{registrar.url}/token", data={"grant_type": "client_credentials"}, auth=(info["client_id"], info["client_secret"]))
    assert token.status_code == 200, token.text
    # Read back (RFC 7592): the secret is not shown again, it is stored only as a hash.
    read = httpx.get(info["registration_client_uri"], headers={"Authorization": f"Bearer {info['registration_access_token']}"})
    assert read.status_code == 200 and "client_secret" not in read.json()


def test_a_key_client_registers_its_jwks_for_private_key_jwt(registrar: RegistrationService) -> None:
    jwks = public_jwks(new_key())
    info = registrar.register({"grant_types": ["client_credentials"], "jwks": jwks, "scope": "notes:read", "audience": API}, registrar.initial_token())
    assert info.status_code == 201, info.text
    assert info.json()["token_endpoint_auth_method"] == "private_key_jwt" and "client_secret" not in info.json()
    assert info.json()["jwks"] == jwks


def test_a_key_client_that_replaces_its_jwks_authenticates_with_the_new_key_at_once(registrar: RegistrationService) -> None:
    """The verifier remembers parsed key sets by their content: a replaced set is read afresh on the next request."""
    old, new = new_key(), new_key()
    info = registrar.register({"grant_types": ["client_credentials"], "jwks": public_jwks(old), "scope": "notes:read", "audience": API},
                              registrar.initial_token()).json()
    client_id, token_endpoint = info["client_id"], f"{registrar.url}/token"

    def token_with(key: Any) -> httpx.Response:
        assertion = sign_assertion(key, client_id, token_endpoint, header={"kid": key.kid})
        return httpx.post(token_endpoint, data={"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion})

    assert token_with(old).status_code == 200
    changed = {key: value for key, value in info.items() if key not in SERVER_OWNED} | {"jwks": public_jwks(new)}
    assert httpx.put(info["registration_client_uri"], json=changed, headers=management(info)).status_code == 200
    refused = token_with(old)
    assert refused.status_code == 401 and "is not in the client's registered jwks" in refused.json()["error_description"]
    assert token_with(new).status_code == 200


PRIVATE_JWK = new_key().as_dict(private=True)
RULES = [
    ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri", "redirect_uris: 'javascript:alert(1)' uses the javascript: scheme"),
    ({"redirect_uris": ["http://app.example.com/cb"]}, "invalid_redirect_uri", "redirect_uris: 'http://app.example.com/cb' uses http on a non-loopback host"),
    ({"redirect_uris": ["https://app.example.com/cb#x"]}, "invalid_redirect_uri", "redirect_uris: 'https://app.example.com/cb#x' has a fragment"),
    ({"redirect_uris": ["myapp://cb"]}, "invalid_redirect_uri", "redirect_uris: 'myapp://cb' uses the scheme 'myapp:'"),
    ({"redirect_uris": ["/callback"]}, "invalid_redirect_uri", "redirect_uris: '/callback' is not absolute"),
    ({"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris: authorization_code needs at least one redirect URI"),
    ({"redirect_uris": "https://app.example.com/cb"}, "invalid_redirect_uri", "redirect_uris: must be a list of strings"),
    ({"post_logout_redirect_uris": ["data:text/html,x"]}, "invalid_redirect_uri", "post_logout_redirect_uris: 'data:text/html,x' uses the data: scheme"),
    ({"response_types": ["token"]}, "invalid_client_metadata", "response_types: 'token' is not supported"),
    ({"response_types": []}, "invalid_client_metadata", "response_types: grant type authorization_code needs response type 'code'"),
    ({"grant_types": ["password"]}, "invalid_client_metadata", "grant_types.0:"),
    ({"grant_types": []}, "invalid_client_metadata", "grant_types: is empty"),
    ({"grant_types": ["client_credentials"], "redirect_uris": []}, "invalid_client_metadata", "grant_types: a public client cannot use client_credentials"),
    ({"jwks": {"keys": [PRIVATE_JWK]}}, "invalid_client_metadata", "jwks: keys are used only with token_endpoint_auth_method 'private_key_jwt'"),
    ({"jwks_uri": "https://keys.example.com/jwks.json"}, "invalid_client_metadata", "jwks_uri: keys are used only with"),
    ({"client_name": "n" * 201}, "invalid_client_metadata", "client_name:"),
    ({"scope": ["openid"]}, "invalid_client_metadata", "scope: must be a string"),
    ({"dpop_bound_access_tokens": "yes"}, "invalid_client_metadata", "dpop_bound_access_tokens: must be true or false"),
    ({"first_party": True}, "invalid_client_metadata", "first_party: is set by operators only"),
    ({"client_secret_hash": "sha256$" + "0" * 64}, "invalid_client_metadata", "client_secret_hash: is set by operators only"),
]
CONFIDENTIAL_RULES = [
    ({"token_endpoint_auth_method": "tls_client_auth"}, "invalid_client_metadata", "token_endpoint_auth_method:"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [PRIVATE_JWK]}}, "invalid_client_metadata", "contains the private member 'd'"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "jwks_uri: private_key_jwt needs exactly one of jwks_uri"),
    ({"jwks_uri": "ftp://keys.example.com/jwks.json"}, "invalid_client_metadata", "jwks_uri: 'ftp://keys.example.com/jwks.json' is not an absolute https URL"),
    ({"jwks": {"keys": []}}, "invalid_client_metadata", "jwks: it holds no keys"),
    ({"jwks": "not json"}, "invalid_client_metadata", "jwks: must be a JWK Set object"),
]


@pytest.mark.parametrize(("change", "error", "names"), RULES)
def test_every_metadata_rule_is_refused_with_its_error(registrar: RegistrationService, change: dict[str, Any], error: str, names: str) -> None:
    response = registrar.register({**PUBLIC_APP, **change})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error and names in response.json()["error_description"]


@pytest.mark.parametrize(("change", "error", "names"), CONFIDENTIAL_RULES)
def test_every_key_rule_is_refused_with_its_error(registrar: RegistrationService, change: dict[str, Any], error: str, names: str) -> None:
    body = {"grant_types": ["client_credentials"], "scope": "notes:read", **change}
    response = registrar.register(body, registrar.initial_token())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error and names in response.json()["error_description"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"[" * 50_000])
def test_a_body_that_is_not_a_metadata_object_is_refused(registrar: RegistrationService, body: bytes) -> None:
    response = httpx.post(f"{registrar.url}/register", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"


def test_open_registration_admits_public_clients_only(registrar: RegistrationService) -> None:
    response = registrar.register({"grant_types": ["client_credentials"], "scope": "notes:read"})
    assert response.status_code == 401
    assert "open registration admits public clients only" in response.json()["error_description"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method", [None, "client_secret_basic", "client_secret_post"])
def test_open_registration_answers_a_secret_request_with_a_public_client(registrar: RegistrationService, method: str | None) -> None:
    body = {key: value for key, value in PUBLIC_APP.items() if key != "token_endpoint_auth_method"}
    if method is not None:
        body["token_endpoint_auth_method"] = method
    response = registrar.register(body)
    assert response.status_code == 201, response.text
    assert response.json()["token_endpoint_auth_method"] == "none" and "client_secret" not in response.json()


def test_a_token_without_the_registration_scope_is_refused(registrar: RegistrationService) -> None:
    response = registrar.register(PUBLIC_APP, registrar.initial_token("notes:read"))
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert 'scope="clients:register"' in response.headers["www-authenticate"]
    forged = registrar.register(PUBLIC_APP, "not-a-token")
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistrationService]:
    yield from registration_service(tmp_path_factory, open_registration=False, registration_rate_limit="6/minute")


def test_without_open_registration_a_token_is_needed(closed: RegistrationService) -> None:
    response = closed.register(PUBLIC_APP)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="registration", error="invalid_token"')
    assert "initial access token" in response.json()["error_description"] and "clients:register" in response.json()["error_description"]
    assert closed.register(PUBLIC_APP, closed.initial_token()).status_code == 201


def test_registration_is_rate_limited_per_address(closed: RegistrationService) -> None:
    statuses = [closed.register(PUBLIC_APP).status_code for _ in range(8)]
    assert 429 in statuses and statuses.index(429) <= 6
    limited = closed.register(PUBLIC_APP)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def management(info: dict[str, Any], token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or info['registration_access_token']}"}


def test_a_client_reads_updates_and_deletes_its_registration(registrar: RegistrationService) -> None:
    info = registrar.register(PUBLIC_APP).json()
    uri = info["registration_client_uri"]
    read = httpx.get(uri, headers=management(info))
    assert read.status_code == 200 and read.json()["client_name"] == "Notes Desktop"
    assert read.json()["registration_access_token"] == info["registration_access_token"]

    changed = {**PUBLIC_APP, "client_id": info["client_id"], "client_name": "Notes Desktop 2", "redirect_uris": ["http://127.0.0.1:9999/v2"]}
    updated = httpx.put(uri, json=changed, headers=management(info))
    assert updated.status_code == 200, updated.text
    assert updated.json()["client_name"] == "Notes Desktop 2" and updated.json()["redirect_uris"] == ["http://127.0.0.1:9999/v2"]
    assert httpx.get(uri, headers=management(info)).json()["redirect_uris"] == ["http://127.0.0.1:9999/v2"]

    # An update follows every rule a registration does, and cannot take server-owned values.
    bad = httpx.put(uri, json={**changed, "redirect_uris": ["javascript:x"]}, headers=management(info))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_redirect_uri"
    owned = httpx.put(uri, json={**changed, "registration_access_token": "x"}, headers=management(info))
    assert owned.status_code == 400 and "registration_access_token" in owned.json()["error_description"]
    other_id = httpx.put(uri, json={**changed, "client_id": "someone-else"}, headers=management(info))
    assert other_id.status_code == 400 and other_id.json()["error"] == "invalid_client_metadata"
    # An open registration stays a public client.
    confidential = httpx.put(uri, json={**changed, "token_endpoint_auth_method": "client_secret_basic"}, headers=management(info))
    assert confidential.status_code == 400 and "stays public" in confidential.json()["error_description"]

    deleted = httpx.delete(uri, headers=management(info))
    assert deleted.status_code == 204
    gone = httpx.get(uri, headers=management(info))
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_token"
    authorize = httpx.get(f"{registrar.url}/authorize", params={"client_id": info["client_id"], "redirect_uri": REDIRECT, "response_type": "code"})
    assert authorize.status_code == 400 and "not registered" in authorize.text


def test_a_registration_token_manages_only_its_own_client(registrar: RegistrationService) -> None:
    mine, theirs = registrar.register(PUBLIC_APP).json(), registrar.register(PUBLIC_APP).json()
    uri = theirs["registration_client_uri"]
    for method in ("GET", "PUT", "DELETE"):
        body = json.dumps({**PUBLIC_APP, "client_id": theirs["client_id"]}).encode() if method == "PUT" else None
        response = httpx.request(method, uri, content=body, headers={**management(mine), "Content-Type": "application/json"})
        assert response.status_code == 403, (method, response.text)
        assert "belongs to another client" in response.json()["error_description"]
    for token in ("made-up-token", None):
        headers = management(theirs, token) if token else {}
        response = httpx.get(uri, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    # An initial access token is not a registration access token.
    assert httpx.get(uri, headers=management(theirs, registrar.initial_token())).status_code == 401
    assert httpx.get(uri, headers=management(theirs)).status_code == 200


def test_dev_turns_on_open_registration_unless_told_otherwise(tmp_path: Any) -> None:
    from token_service.dev import dev_settings
    from token_service.settings import load_settings

    assert load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path)}).open_registration is False
    assert dev_settings(load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path)})).open_registration is True
    explicit = load_settings({"TOKEN_SERVICE_DATA_DIR": str(tmp_path), "TOKEN_SERVICE_OPEN_REGISTRATION": "false"})
    assert dev_settings(explicit).open_registration is False


def test_a_browser_app_can_register_cross_origin(registrar: RegistrationService) -> None:
    origin = "https://inspector.example"
    preflight = httpx.options(
        f"{registrar.url}/register",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    registered = httpx.post(f"{registrar.url}/register", json=PUBLIC_APP, headers={"Origin": origin})
    assert registered.status_code == 201 and registered.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in registered.headers
    # The other endpoints still admit only registered origins.
    token_preflight = httpx.options(f"{registrar.url}/token", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert token_preflight.status_code == 403


def test_deleting_a_registration_revokes_the_clients_access_tokens(registrar: RegistrationService) -> None:
    from tests.status.conftest import revoked_bits, status_of, wait_for

    body = {"client_name": "Batch", "grant_types": ["client_credentials"], "scope": "notes:read", "audience": API}
    info = registrar.register(body, registrar.initial_token()).json()
    tokens = [
        httpx.post(f"{registrar.url}/token", data={"grant_type": "client_credentials"}, auth=(info["client_id"], info["client_secret"])).json()["access_token"]
        for _ in range(2)
    ]
    bystander = registrar.initial_token()  # another client's token, in the same list
    deleted = httpx.delete(info["registration_client_uri"], headers=management(info))
    assert deleted.status_code == 204
    # RFC 7592 §2.3: the deleted client's tokens are invalidated, at every API checking status.
    uri = status_of(tokens[0])[0]
    assert wait_for(lambda: revoked_bits(registrar.url, uri) == {status_of(token)[1] for token in tokens})
    assert status_of(bystander)[1] not in revoked_bits(registrar.url, uri)


def test_a_self_registered_client_gets_tokens_only_for_registered_apis(registrar: RegistrationService) -> None:
    elsewhere = "https://payments.example.com"
    response = registrar.register({**PUBLIC_APP, "audience": elsewhere})
    assert response.status_code == 201, response.text
    page = httpx.get(
        f"{registrar.url}/authorize",
        params={"client_id": response.json()["client_id"], "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid notes:read",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"},
    )
    # invalid_target goes back to the registered redirect URI (RFC 8707 §2), naming the rule.
    assert page.status_code in (302, 303), page.text
    location = page.headers["location"]
    assert location.startswith(REDIRECT) and "error=invalid_target" in location and "registered" in location
