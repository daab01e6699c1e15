"""`token-service explain` names the cause of each classic 401 (and the 403), and never prints a signature."""

from __future__ import annotations

import asyncio
import base64
import json
import time

from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from tests.diagnostics.conftest import API, Cli, CliResult, client_credentials_token, settings_env
from tests.support.fake_issuer import FakeIssuer
from tests.support.live_server import live_server
from tests.support.token_service import RunningTokenService
from token_service.app import create_app
from token_service.db.engine import session_factory
from token_service.diagnostics.local_database import local_engine
from token_service.keys.sealing import load_kek
from token_service.keys.service import KeyService
from token_service.settings import TokenServiceSettings

FAKE_API = "http://api.test"


def explain(cli: Cli, token: str, *args: str, env: dict[str, str] | None = None) -> CliResult:
    result = cli("explain", token, *args, env=env)
    signature = token.split(".")[-1] if token.count(".") >= 2 else None
    if signature:
        # The signature (or the JWE tag) must never be echoed, nor the token as a whole.
        assert signature not in result.out and signature not in result.err
        assert token not in result.out
    return result


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_valid_token_is_accepted_with_exit_0(cli: Cli, service: RunningTokenService) -> None:
    token = client_credentials_token(service)
    result = explain(cli, token, "--audience", API, "--issuer", service.url, "--scope", "notes:read", env=settings_env(service.settings))
    assert result.code == 0, result.out
    assert "Verdict: accepted" in result.out
    assert "failed" not in result.out
    for rule in ("format", "signature", "issuer", "audience", "expiry", "status", "scope"):
        assert f"passed   {rule}" in result.out
    assert f"valid in status list {service.url}/statuslists/" in result.out


def test_a_revoked_token_is_explained_with_its_list_and_index(cli: Cli, service: RunningTokenService) -> None:
    import httpx

    client_id, secret = service.add_client(scope="notes:read", audience=API)
    assert secret is not None
    token = httpx.post(f"{service.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)).json()["access_token"]
    assert httpx.post(f"{service.url}/revoke", data={"token": token}, auth=(client_id, secret)).status_code == 200
    result = explain(cli, token, "--audience", API, "--issuer", service.url, env=settings_env(service.settings))
    assert result.code == 1
    status = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==").decode())["status"]["status_list"]
    assert f"revoked (status list {status['uri']}, index {status['idx']})" in result.out


def test_expired_token_says_how_long_ago_and_the_leeway(cli: Cli, issuer: FakeIssuer) -> None:
    token = issuer.mint(exp=int(time.time()) - 192, iat=int(time.time()) - 800)
    result = explain(cli, token, "--audience", FAKE_API)
    assert result.code == 1
    assert "First failing rule: expiry" in result.out
    assert "rejected: the API would answer 401 invalid_token" in result.out
    # 192 s ago, give or take the second boundary between minting and checking.
    assert "expired 3 min 1" in result.out and "leeway 30 s" in result.out


def test_wrong_issuer_spelling_localhost_vs_127(cli: Cli, service: RunningTokenService) -> None:
    token = client_credentials_token(service)
    localhost = service.url.replace("127.0.0.1", "localhost")
    result = explain(cli, token, "--issuer", localhost, "--audience", API)
    assert result.code == 1
    assert f"the token was issued by {service.url} but the API expects {localhost}" in result.out
    assert "localhost and 127.0.0.1 are the same machine but not the same string" in result.out
    assert "failed   issuer" in result.out


def test_wrong_issuer_trailing_slash(cli: Cli, issuer: FakeIssuer) -> None:
    token = issuer.mint()
    result = explain(cli, token, "--issuer", issuer.issuer + "/", "--audience", FAKE_API)
    assert result.code == 1
    assert "they differ only by a trailing slash" in result.out


def test_wrong_audience_names_both_fixes(cli: Cli, service: RunningTokenService) -> None:
    token = client_credentials_token(service, audience="http://127.0.0.1:9999")
    result = explain(cli, token, "--audience", API, "--issuer", service.url)
    assert result.code == 1
    assert "First failing rule: audience" in result.out
    assert "RESOURCE_API_AUDIENCE to http://127.0.0.1:9999" in result.out
    assert f"resource={API}" in result.out


def test_id_token_instead_of_access_token(cli: Cli, issuer: FakeIssuer) -> None:
    token = issuer.mint(
        header={"typ": "JWT"}, audience="spa-client", azp="spa-client", nonce="n-0S6_WzA2Mj", at_hash="77QmUPtjPfzWtF2AnpK9RQ",
        client_id=FakeIssuer.DELETE, scope=FakeIssuer.DELETE, jti=FakeIssuer.DELETE,
    )
    result = explain(cli, token, "--audience", FAKE_API)
    assert result.code == 1
    assert "an OpenID Connect ID token" in result.out
    assert "Fix: this is an ID token (typ JWT, has nonce, has at_hash, aud is the client id 'spa-client')" in result.out
    assert "send the access token" in result.out


def test_hs256_token_signed_with_a_shared_secret(cli: Cli, issuer: FakeIssuer) -> None:
    now = int(time.time())
    claims = {"iss": issuer.issuer, "sub": "user@example.com", "aud": FAKE_API, "exp": now + 600, "iat": now}
    token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(b"x" * 32), algorithms=["HS256"])
    result = explain(cli, token, "--audience", FAKE_API)
    assert result.code == 1
    assert "First failing rule: algorithm" in result.out
    assert "signed with a shared secret (HS256)" in result.out and "NEXTAUTH_SECRET" in result.out


def test_alg_none_token_is_called_unsigned(cli: Cli, issuer: FakeIssuer) -> None:
    now = int(time.time())
    token = b64({"alg": "none", "typ": "at+jwt"}) + "." + b64({"iss": issuer.issuer, "aud": FAKE_API, "exp": now + 60}) + "."
    result = explain(cli, token, "--audience", FAKE_API)
    assert result.code == 1
    assert "First failing rule: format" in result.out
    assert "the token is unsigned (alg none)" in result.out


def test_unknown_kid_from_another_issuer(cli: Cli, issuer: FakeIssuer, key2: RSAKey) -> None:
    token = issuer.mint(key=key2)
    result = explain(cli, token, "--audience", FAKE_API)
    assert result.code == 1
    assert "First failing rule: kid" in result.out
    assert "kid 'k2' is not in the JWKS" in result.out
    assert "rotated or revoked key, or a token from another issuer" in result.out


def test_revoked_kid_of_our_own_service_is_named_revoked(cli: Cli, make_settings: object) -> None:
    from tests.support.token_service import issuer_settings, running_token_service

    settings: TokenServiceSettings = issuer_settings(make_settings)
    with running_token_service(settings) as first:
        token = client_credentials_token(first)
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
    asyncio.run(revoke(settings, kid))
    # Restarted on the same database: it now publishes only the key that replaced the revoked one.
    with live_server(create_app(settings), port=settings.port):
        result = explain(cli, token, "--audience", API, env=settings_env(settings))
    assert result.code == 1
    assert f"kid {kid!r} is one of our keys and was revoked at" in result.out


async def revoke(settings: TokenServiceSettings, kid: str) -> None:
    async with local_engine(settings) as engine:
        await KeyService.from_settings(session_factory(engine), load_kek(settings), settings).revoke(kid)


def test_missing_scope_is_a_403_not_a_401(cli: Cli, service: RunningTokenService) -> None:
    token = client_credentials_token(service, scope="notes:read")
    result = explain(cli, token, "--audience", API, "--issuer", service.url, "--scope", "notes:write")
    assert result.code == 1
    assert "rejected: the API would answer 403 insufficient_scope" in result.out
    assert "First failing rule: scope" in result.out
    assert "403 insufficient_scope, not 401" in result.out


def test_five_segment_jwe_session_cookie(cli: Cli) -> None:
    header = b64({"alg": "dir", "enc": "A256CBC-HS512", "kid": "session"})
    token = ".".join([header, "", "c2Vzc2lvbi1pdg", "ZW5jcnlwdGVkLXNlc3Npb24tcGF5bG9hZA", "dGFnLXNlZ21lbnQtdmFsdWU"])
    result = explain(cli, token)
    assert result.code == 1
    assert "First failing rule: format" in result.out
    assert "this is an encrypted session token (JWE, 5 segments, alg dir, enc A256CBC-HS512)" in result.out
    assert "dGFnLXNlZ21lbnQtdmFsdWU" not in result.out


def test_opaque_string_is_not_a_jwt(cli: Cli) -> None:
    result = explain(cli, "b1c2d3e4f5a6b7c8d9e0")
    assert result.code == 1
    assert "this is not a JWT (1 dot-separated segment(s)" in result.out


def test_token_from_stdin_and_json_report(cli: Cli, issuer: FakeIssuer) -> None:
    token = issuer.mint(exp=int(time.time()) - 3600)
    result = cli("explain", "-", "--audience", FAKE_API, "--json", stdin=token + "\n")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["accepted"] is False and report["status_code"] == 401
    assert report["first_failure"]["rule"] == "expiry"
    assert [r["rule"] for r in report["rules"]][:3] == ["format", "header", "algorithm"]
    assert token.split(".")[2] not in result.out


def test_unreachable_issuer_is_exit_1_with_the_reason(cli: Cli, issuer: FakeIssuer) -> None:
    token = issuer.mint()
    result = explain(cli, token, "--issuer", "http://127.0.0.1:1", "--audience", FAKE_API)
    assert result.code == 1
    assert "could not reach http://127.0.0.1:1/.well-known/openid-configuration" in result.out
    assert "503" in result.out


def test_empty_stdin_is_a_usage_error(cli: Cli) -> None:
    result = cli("explain", "-", stdin="")
    assert result.code == 2 and "no token given" in result.err


def test_explain_shows_the_dpop_binding_and_what_a_caller_must_send(cli: Cli, issuer: FakeIssuer) -> None:
    jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    bound = explain(cli, issuer.mint(cnf={"jkt": jkt}), "--audience", FAKE_API)
    plain = explain(cli, issuer.mint(), "--audience", FAKE_API)
    as_json = json.loads(explain(cli, issuer.mint(cnf={"jkt": jkt}), "--audience", FAKE_API, "--json").out)

    assert f"Binding:  DPoP-bound to key {jkt} (cnf.jkt): send 'Authorization: DPoP <token>' plus a DPoP header" in bound.out
    assert "sent as Bearer it is refused" in bound.out
    assert "Binding:  none (a bearer token): send 'Authorization: Bearer <token>'" in plain.out
    assert as_json["binding"]["dpop_jkt"] == jkt
