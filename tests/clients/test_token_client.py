"""shared.TokenClient: a service gets tokens with its key (or secret) and calls another API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from shared import TokenClient, TokenRequestError
from tests.support.client_keys import new_key, public_jwks
from tests.support.live_server import LiveServer
from tests.support.token_service import RunningTokenService


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def counting_client() -> tuple[httpx.AsyncClient, list[str]]:
    posts: list[str] = []

    async def record(request: httpx.Request) -> None:
        if request.method == "POST":
            posts.append(str(request.url))

    return httpx.AsyncClient(event_hooks={"request": [record]}), posts


def key_file_client(service: RunningTokenService, api: str, tmp_path: Path, alg: str = "ES256") -> tuple[str, Path]:
    key = new_key(alg)
    path = tmp_path / "worker.jwk"
    path.write_text(json.dumps(key.as_dict(private=True)))
    client_id, _ = service.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key), scope="notes:read notes:write", audience=api
    )
    return client_id, path


def test_an_httpx_client_with_token_client_auth_calls_the_api(key_service: RunningTokenService, notes_api: LiveServer, tmp_path: Path) -> None:
    client_id, key_path = key_file_client(key_service, notes_api.url, tmp_path)

    async def run() -> tuple[int, list[str], str]:
        async with TokenClient(key_service.url, client_id, private_key=key_path, scope="notes:read notes:write") as tokens:
            async with httpx.AsyncClient(auth=tokens) as http:
                created = await http.post(f"{notes_api.url}/notes", json={"text": "from a worker"})
                listed = await http.get(f"{notes_api.url}/notes")
                me = await http.get(f"{notes_api.url}/me")
        return created.status_code, [n["text"] for n in listed.json()], me.json()["client_id"]

    assert asyncio.run(run()) == (201, ["from a worker"], client_id)


def test_tokens_are_cached_per_scope_shared_by_concurrent_callers_and_renewed_ahead(
    key_service: RunningTokenService, notes_api: LiveServer, tmp_path: Path
) -> None:
    client_id, key_path = key_file_client(key_service, notes_api.url, tmp_path, alg="RS256")
    clock = Clock()

    async def run() -> None:
        http, posts = counting_client()
        tokens = TokenClient(key_service.url, client_id, private_key=key_path, http_client=http, clock=clock, renew_before=60)
        first = await asyncio.gather(*(tokens.token(scope="notes:read") for _ in range(8)))
        assert len({t.access_token for t in first}) == 1 and len(posts) == 1  # eight callers, one request
        assert (await tokens.token(scope="notes:read")).access_token == first[0].access_token
        write = await tokens.token(scope="notes:write")
        assert write.scope == "notes:write" and len(posts) == 2  # another scope is another token
        lifetime = first[0].expires_at - clock.now
        clock.now += lifetime - 59  # inside the renewal margin: a new token before the old one expires
        renewed = await tokens.token(scope="notes:read")
        assert renewed.access_token != first[0].access_token and len(posts) == 3
        await http.aclose()

    asyncio.run(run())


def test_a_refusal_carries_the_servers_reason(key_service: RunningTokenService, notes_api: LiveServer, tmp_path: Path) -> None:
    client_id, _ = key_file_client(key_service, notes_api.url, tmp_path)
    wrong = new_key("ES256").as_dict(private=True)

    async def run() -> TokenRequestError:
        async with TokenClient(key_service.url, client_id, private_key=wrong) as tokens:
            with pytest.raises(TokenRequestError) as info:
                await tokens.token()
        return info.value

    error = asyncio.run(run())
    assert error.error == "invalid_client" and error.status_code == 401
    assert error.description.startswith("kid ") and "is not in the client's registered jwks" in error.description


def test_a_client_secret_works_too(key_service: RunningTokenService, notes_api: LiveServer) -> None:
    client_id, secret = key_service.add_client(scope="notes:read", audience=notes_api.url)
    assert secret is not None

    async def run() -> int:
        async with TokenClient(key_service.url, client_id, client_secret=secret) as tokens:
            async with httpx.AsyncClient(auth=tokens) as http:
                return (await http.get(f"{notes_api.url}/notes")).status_code

    assert asyncio.run(run()) == 200


def test_key_and_secret_together_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="exactly one of private_key"):
        TokenClient("https://issuer.example.com", "x", private_key=new_key().as_dict(private=True), client_secret="s" * 40)
