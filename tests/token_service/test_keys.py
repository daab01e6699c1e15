"""Signing keys: generated once, reused on restart, encrypted at rest, published without private members."""

from __future__ import annotations

import asyncio
import os
import stat
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select

from tests.support.token_service import issuer_settings, running_token_service
from token_service.db.models import SigningKeyRow
from token_service.keys.sealing import KEK_FILE_NAME, new_kek_text
from token_service.runtime import open_runtime
from token_service.settings import ConfigurationError, TokenServiceSettings

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def stored_rows(settings: TokenServiceSettings) -> list[SigningKeyRow]:
    async def run() -> list[SigningKeyRow]:
        runtime = await open_runtime(settings, migrate_now=True)
        try:
            async with runtime.db_sessions() as session:
                return list((await session.execute(select(SigningKeyRow))).scalars())
        finally:
            await runtime.close()

    return asyncio.run(run())


def test_first_start_generates_one_key_and_restarts_reuse_it(make_settings: Any) -> None:
    settings = issuer_settings(make_settings)
    with running_token_service(settings) as service:
        first = httpx.get(f"{service.url}/jwks.json").json()
    with running_token_service(settings) as service:
        second = httpx.get(f"{service.url}/jwks.json").json()
    assert first == second
    assert len(first["keys"]) == 1
    rows = stored_rows(settings)
    assert [row.state for row in rows] == ["active"]


def test_published_key_is_public_rs256_with_thumbprint_kid(make_settings: Any) -> None:
    settings = issuer_settings(make_settings)
    with running_token_service(settings) as service:
        response = httpx.get(f"{service.url}/jwks.json")
    (key,) = response.json()["keys"]
    assert not PRIVATE_MEMBERS & set(key)
    assert key["use"] == "sig" and key["alg"] == "RS256" and key["kty"] == "RSA"
    assert key["kid"] == RSAKey.import_key(key).thumbprint()  # RFC 7638
    assert len(__import__("base64").urlsafe_b64decode(key["n"] + "==")) * 8 == settings.key_size


def test_private_key_is_encrypted_at_rest(make_settings: Any) -> None:
    settings = issuer_settings(make_settings)
    (row,) = stored_rows(settings)
    assert b"PRIVATE KEY" not in row.private_key_ciphertext
    assert b"-----BEGIN" not in row.private_key_ciphertext
    assert not PRIVATE_MEMBERS & set(row.public_jwk)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_embedded_kek_file_is_private_to_the_owner(make_settings: Any) -> None:
    settings = issuer_settings(make_settings)
    stored_rows(settings)
    mode = stat.S_IMODE(os.stat(settings.data_dir / KEK_FILE_NAME).st_mode)
    assert mode == 0o600


def test_wrong_kek_stops_start_up_naming_the_variable(make_settings: Any) -> None:
    settings = issuer_settings(make_settings, key_encryption_key=new_kek_text())
    stored_rows(settings)
    wrong = settings.model_copy(update={"key_encryption_key": __import__("pydantic").SecretStr(new_kek_text())})
    with pytest.raises(ConfigurationError, match="TOKEN_SERVICE_KEY_ENCRYPTION_KEY"):
        stored_rows(wrong)


def test_jwks_has_strong_etag_cache_control_and_304(make_settings: Any) -> None:
    settings = issuer_settings(make_settings, jwks_max_age=120)
    with running_token_service(settings) as service:
        first = httpx.get(f"{service.url}/jwks.json")
        assert first.headers["cache-control"] == "public, max-age=120"
        etag = first.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = httpx.get(f"{service.url}/jwks.json", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = httpx.get(f"{service.url}/jwks.json", headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content


def test_discovery_names_exact_issuer_and_only_implemented_features(make_settings: Any) -> None:
    settings = issuer_settings(make_settings)
    with running_token_service(settings) as service:
        for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
            document = httpx.get(f"{service.url}{path}").json()
            assert document["issuer"] == service.url
            assert document["jwks_uri"] == f"{service.url}/jwks.json"
            assert document["token_endpoint"] == f"{service.url}/token"
            assert "client_credentials" in document["grant_types_supported"]
            for endpoint in (v for k, v in document.items() if k.endswith("_endpoint")):
                status = httpx.request("OPTIONS", endpoint).status_code
                assert status != 404, endpoint
