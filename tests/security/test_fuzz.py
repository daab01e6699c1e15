"""Fuzzing both services over real HTTP: no generated request may produce a 5xx or a stack trace.

Bounded in the normal run; for a long run:

    FUZZ_EXAMPLES=2000 uv run pytest tests/security/test_fuzz.py

schemathesis drives every operation of the OpenAPI schema each service serves at
/schema/openapi.json. The browser endpoints are left out of the schema
(include_in_schema=False) and /token reads its form body itself, so hypothesis
also posts arbitrary bodies and query strings to those.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from tests.support.browser import add_user
from tests.support.fake_issuer import FakeIssuer, running_issuer
from tests.support.live_server import live_server
from tests.support.token_service import RunningTokenService, issuer_settings, running_token_service
from resource_api.app import create_app as create_resource_api
from resource_api.settings import ResourceApiSettings
from token_service.settings import load_settings

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
RESOURCE_AUDIENCE = "http://127.0.0.1:8001"


def assert_handled(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert "Traceback" not in response.text


@pytest.fixture(scope="module")
def token_service(tmp_path_factory: pytest.TempPathFactory, key1: RSAKey) -> Iterator[RunningTokenService]:
    data_dir = tmp_path_factory.mktemp("fuzz-token-service")

    def make(**overrides: Any) -> Any:
        return load_settings({"TOKEN_SERVICE_DATA_DIR": str(data_dir)}, **overrides)

    settings_ = issuer_settings(make, upstreams=[{"name": "local", "kind": "password"}])
    with running_token_service(settings_) as service:
        service.add_client(grant_types=["client_credentials"], client_id="fuzz-machine", secret="m" * 43, scope="notes:read")
        service.add_client(
            grant_types=["authorization_code", "refresh_token"], client_id="fuzz-browser", redirect_uris=["http://127.0.0.1:9999/cb"], scope="openid", public=True
        )
        add_user(settings_, "alice", "correct horse battery staple")
        yield service


@pytest.fixture(scope="module")
def resource_api(tmp_path_factory: pytest.TempPathFactory, key1: RSAKey) -> Iterator[tuple[str, FakeIssuer]]:
    with running_issuer([key1]) as (issuer, _):
        settings_ = ResourceApiSettings(
            issuer=issuer.issuer, audience=RESOURCE_AUDIENCE, database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz-api')}/notes.db"
        )
        with live_server(create_resource_api(settings_)) as server:
            yield server.url, issuer


@pytest.fixture(scope="module")
def token_service_schema(token_service: RunningTokenService) -> Any:
    return schemathesis.openapi.from_url(f"{token_service.url}/schema/openapi.json")


@pytest.fixture(scope="module")
def resource_api_schema(resource_api: tuple[str, FakeIssuer]) -> Any:
    return schemathesis.openapi.from_url(f"{resource_api[0]}/schema/openapi.json")


def fuzz_every_operation(schema: Any, headers: dict[str, str] | None = None) -> list[str]:
    """Run FUZZ_EXAMPLES generated cases against each operation; returns the operations fuzzed.

    The operations are walked here rather than with `schemathesis.pytest.from_fixture`,
    whose lazy loader does not work with pytest 9 (it sets a private node attribute).
    """
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            assert_handled(case.call(timeout=10))
            if headers:
                assert_handled(case.call(timeout=10, headers=headers))

        run()
        fuzzed.append(f"{operation.method.upper()} {operation.path}")
    return fuzzed


def test_token_service_operations_never_fail(token_service_schema: Any) -> None:
    fuzzed = fuzz_every_operation(token_service_schema)

    # A schema that silently lost its operations would make this test vacuous.
    assert {"POST /token", "GET /authorize", "POST /revoke", "POST /introspect", "GET /userinfo", "GET /logout"} <= set(fuzzed)


def test_resource_api_operations_never_fail(resource_api_schema: Any, resource_api: tuple[str, FakeIssuer]) -> None:
    # Each case is also sent with a valid token, so the handlers behind the verifier are fuzzed too.
    token = resource_api[1].mint(audience=RESOURCE_AUDIENCE, scope="notes:read notes:write", lifetime=3600)

    fuzzed = fuzz_every_operation(resource_api_schema, {"Authorization": f"Bearer {token}"})

    assert {"GET /notes", "POST /notes", "GET /me"} <= set(fuzzed)


# ---- what the schema does not describe -------------------------------------------------

PARAMETER_NAMES = st.sampled_from(
    [
        "grant_type", "client_id", "client_secret", "code", "redirect_uri", "code_verifier", "refresh_token", "scope",
        "resource", "response_type", "state", "nonce", "code_challenge", "code_challenge_method", "prompt", "max_age",
        "tx", "csrf", "username", "password", "decision", "confirm", "id_token_hint", "post_logout_redirect_uri", "token",
    ]
) | st.text(max_size=20)
PARAMETER_VALUES = st.sampled_from(["fuzz-machine", "fuzz-browser", "client_credentials", "authorization_code", "S256", "allow", "alice"]) | st.text(max_size=200)
PAIRS = st.lists(st.tuples(PARAMETER_NAMES, PARAMETER_VALUES), max_size=12)
CONTENT_TYPES = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1", "application/json", "text/plain", "multipart/form-data", ""]
)
FORM_PATHS = ["/token", "/revoke", "/introspect", "/login/password", "/consent", "/logout", "/userinfo"]
QUERY_PATHS = ["/authorize", "/authorize/continue", "/login", "/login/local", "/callback/local", "/logout", "/userinfo"]


@FUZZ
@given(path=st.sampled_from(FORM_PATHS), pairs=PAIRS, basic=st.none() | st.tuples(PARAMETER_VALUES, PARAMETER_VALUES))
def test_random_forms_never_fail(token_service: RunningTokenService, path: str, pairs: list[tuple[str, str]], basic: tuple[str, str] | None) -> None:
    # Encoded by hand: repeated names are part of the attack and a dict would merge them.
    body = urlencode(pairs).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_handled(httpx.post(f"{token_service.url}{path}", content=body, headers=headers, auth=basic, timeout=10))


@FUZZ
@given(path=st.sampled_from(FORM_PATHS), body=st.binary(max_size=2000), content_type=CONTENT_TYPES)
def test_random_bodies_never_fail(token_service: RunningTokenService, path: str, body: bytes, content_type: str) -> None:
    assert_handled(httpx.post(f"{token_service.url}{path}", content=body, headers={"Content-Type": content_type}, timeout=10))


@FUZZ
@given(path=st.sampled_from(QUERY_PATHS), pairs=PAIRS)
def test_random_query_strings_never_fail(token_service: RunningTokenService, path: str, pairs: list[tuple[str, str]]) -> None:
    assert_handled(httpx.get(f"{token_service.url}{path}", params=pairs, timeout=10))
