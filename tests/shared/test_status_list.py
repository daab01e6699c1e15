"""The verifier checks a token's status in the issuer's Token Status List (draft-ietf-oauth-status-list)."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from shared import AccessTokenVerifier, JwksCache
from shared.errors import InvalidToken
from shared.status_list import StatusListCache, decode_lst, encode_lst, status_at
from shared.status_list.bits import StatusListError
from tests.support.clock import FakeClock
from tests.support.fake_issuer import FakeIssuer, b64, mint_jwt

AUDIENCE = "http://api.test"
LIST_PATH = "/statuslists/abc"


def test_encoding_matches_the_drafts_example() -> None:
    # draft-ietf-oauth-status-list §4.1: statuses 1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1 are 0xB9 0xA3.
    assert decode_lst("eNrbuRgAAhcBXQ", max_bytes=16) == b"\xb9\xa3"
    revoked = [0, 3, 4, 5, 7, 8, 9, 13, 15]
    packed = decode_lst(encode_lst(16, revoked), max_bytes=16)
    assert packed == b"\xb9\xa3"
    assert [i for i in range(16) if status_at(packed, i, 1)] == revoked
    assert status_at(packed, 16, 1) is None


@pytest.mark.parametrize(
    ("lst", "reason"),
    [
        (b64(zlib.compress(b"\x00" * 64)[:-5]), "truncated"),
        (b64(b"plain bytes, not zlib"), "not zlib"),
        ("!!!", "not base64url"),
        (b64(zlib.compress(b"\x00" * (8 * 1024 * 1024))), "more than"),
    ],
)
def test_malformed_or_huge_lists_are_refused(lst: str, reason: str) -> None:
    with pytest.raises(StatusListError, match=reason):
        decode_lst(lst, max_bytes=1024 * 1024)


def list_token(key: RSAKey, uri: str, *, size: int = 1024, revoked: tuple[int, ...] = (3,), **overrides: Any) -> bytes:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": uri, "iat": now, "exp": now + 600, "ttl": 10, "status_list": {"bits": 1, "lst": encode_lst(size, revoked)}}
    header = {"alg": "RS256", "typ": "statuslist+jwt", "kid": key.kid, **overrides.pop("header", {})}
    claims.update(overrides)
    return mint_jwt(header, claims, key).encode()


@pytest.fixture
async def status_cache(issuer: FakeIssuer, clock: FakeClock) -> AsyncIterator[StatusListCache]:
    jwks = JwksCache(issuer.issuer, min_ttl=60)
    cache = StatusListCache(jwks, max_stale=30, clock=clock, max_bytes=64 * 1024)
    yield cache
    await cache.aclose()
    await jwks.aclose()


@pytest.fixture
def checking(status_cache: StatusListCache, issuer: FakeIssuer) -> AccessTokenVerifier:
    assert isinstance(status_cache.keys, JwksCache)
    return AccessTokenVerifier(status_cache.keys, issuer=issuer.issuer, audience=AUDIENCE, status_lists=status_cache)


def publish(issuer: FakeIssuer, token: bytes, path: str = LIST_PATH, status: int = 200) -> str:
    issuer.documents[path] = (status, token, "application/statuslist+jwt")
    return issuer.issuer + path


def with_status(issuer: FakeIssuer, uri: str, idx: Any) -> str:
    return issuer.mint(status={"status_list": {"idx": idx, "uri": uri}})


async def rejection(verifier: AccessTokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.rule == "status"
    return caught.value.reason


async def test_a_revoked_token_is_refused_and_its_neighbours_accepted(checking: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey) -> None:
    uri = publish(issuer, list_token(key1, issuer.issuer + LIST_PATH, revoked=(3,)))
    assert await rejection(checking, with_status(issuer, uri, 3)) == f"revoked (status list {uri}, index 3)"
    for idx in (0, 2, 4, 1023):
        assert (await checking.verify(with_status(issuer, uri, idx))).sub == "user-1"
    assert issuer.document_requests[LIST_PATH] == 1  # one fetch, then bit lookups


async def test_tokens_without_status_are_still_accepted(checking: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    assert (await checking.verify(issuer.mint())).sub == "user-1"


async def test_concurrent_cold_checks_share_one_fetch(checking: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey) -> None:
    uri = publish(issuer, list_token(key1, issuer.issuer + LIST_PATH))
    await asyncio.gather(*(checking.verify(with_status(issuer, uri, i)) for i in range(4, 24)))
    assert issuer.document_requests[LIST_PATH] == 1


async def test_a_list_on_another_origin_is_never_fetched(checking: AccessTokenVerifier, issuer: FakeIssuer) -> None:
    for uri in ("http://127.0.0.1:1/statuslists/abc", "https://evil.example/statuslists/abc", "file:///etc/passwd", issuer.issuer.replace("http:", "https:") + LIST_PATH):
        reason = await rejection(checking, with_status(issuer, uri, 0))
        assert "not on the issuer's origin" in reason and "not fetched" in reason
    assert issuer.document_requests == {}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda key, other, uri: list_token(other, uri), "not signed by a key"),
        (lambda key, other, uri: list_token(key, uri, sub=uri + "-other"), "is for sub"),
        (lambda key, other, uri: list_token(key, uri, header={"typ": "JWT"}), "typ"),
        (lambda key, other, uri: list_token(key, uri, exp=int(time.time()) - 3600), "expired"),
        (lambda key, other, uri: list_token(key, uri, status_list={"bits": 3, "lst": "eNrbuRgAAhcBXQ"}), "bits"),
        (lambda key, other, uri: list_token(key, uri, status_list={"bits": 1, "lst": b64(zlib.compress(b"\x00" * 64)[:-5])}), "truncated"),
        (lambda key, other, uri: list_token(key, uri, status_list={"bits": 1, "lst": b64(b"not zlib at all")}), "not zlib"),
        (lambda key, other, uri: list_token(key, uri, status_list={"bits": 1, "lst": b64(zlib.compress(b"\x00" * (1 << 22)))}), "more than"),
        (lambda key, other, uri: b"not.a.jwt", "base64url JSON"),
    ],
)
async def test_a_bad_status_list_refuses_the_token(
    checking: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey, key2: RSAKey, make: Any, reason: str
) -> None:
    uri = publish(issuer, make(key1, key2, issuer.issuer + LIST_PATH))
    found = await rejection(checking, with_status(issuer, uri, 0))
    assert found.startswith("the token's status could not be checked") and reason in found


async def test_an_index_beyond_the_list_is_refused(checking: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey) -> None:
    uri = publish(issuer, list_token(key1, issuer.issuer + LIST_PATH, size=1024))
    assert "index 1024 is beyond status list" in await rejection(checking, with_status(issuer, uri, 1024))
    for bad in (-1, "3", True, 1.5):
        assert "idx must be a non-negative integer" in await rejection(checking, with_status(issuer, uri, bad))


async def test_an_unreachable_list_is_used_stale_within_max_stale_then_refused(
    checking: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey, clock: FakeClock
) -> None:
    uri = publish(issuer, list_token(key1, issuer.issuer + LIST_PATH))
    assert await checking.verify(with_status(issuer, uri, 0))
    publish(issuer, b"down", status=503)
    clock.advance(10 + 20)  # past the ttl (10 s), within max_stale (30 s)
    assert await checking.verify(with_status(issuer, uri, 0))
    assert "revoked" in await rejection(checking, with_status(issuer, uri, 3))
    clock.advance(25)  # past ttl + max_stale: fail closed
    found = await rejection(checking, with_status(issuer, uri, 0))
    assert found.startswith("the token's status could not be checked") and "503" in found


async def test_the_list_is_refetched_after_its_ttl(checking: AccessTokenVerifier, issuer: FakeIssuer, key1: RSAKey, clock: FakeClock) -> None:
    uri = publish(issuer, list_token(key1, issuer.issuer + LIST_PATH, revoked=()))
    token = with_status(issuer, uri, 7)
    assert await checking.verify(token)
    publish(issuer, list_token(key1, uri, revoked=(7,)))
    clock.advance(5)
    assert await checking.verify(token)  # within the ttl: the held list answers
    clock.advance(6)
    assert "revoked" in await rejection(checking, token)
    assert issuer.document_requests[LIST_PATH] == 2


def test_a_huge_lst_is_cut_off_before_decoding() -> None:
    with pytest.raises(StatusListError, match="longer than"):
        decode_lst("A" * (5 * 1024), max_bytes=1024)


async def test_prefetch_loads_the_lists_the_aggregation_endpoint_names(status_cache: StatusListCache, issuer: FakeIssuer, key1: RSAKey) -> None:
    uri = publish(issuer, list_token(key1, issuer.issuer + LIST_PATH))
    issuer.extra_metadata["status_list_aggregation_endpoint"] = f"{issuer.issuer}/statuslists"
    listed = [uri, "https://elsewhere.example/statuslists/x"]
    issuer.documents["/statuslists"] = (200, json.dumps({"status_lists": listed}).encode(), "application/json")
    assert await status_cache.aggregated_uris() == listed
    await status_cache.prefetch(listed)
    assert status_cache.fresh(uri) is not None  # a token pointing there is checked without waiting
    assert issuer.document_requests[LIST_PATH] == 1 and status_cache.fresh(listed[1]) is None
