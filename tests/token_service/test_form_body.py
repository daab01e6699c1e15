"""How the form endpoints read a request body off the ASGI channel (token, revoke, introspect, ...)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from litestar import Request

from token_service.errors import InvalidRequest
from token_service.http.forms import MAX_FORM_BYTES, read_form

FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


def request_receiving(messages: Iterable[dict[str, Any]]) -> tuple[Request[Any, Any, Any], list[dict[str, Any]]]:
    """A request whose receive channel yields `messages`; the list records what was taken."""
    pending, taken = list(messages), []

    async def receive() -> dict[str, Any]:
        taken.append(pending.pop(0))
        return taken[-1]

    scope = {"type": "http", "method": "POST", "path": "/token", "headers": FORM, "query_string": b"", "state": {}}
    return Request(scope, receive), taken  # type: ignore[arg-type]


async def test_a_body_sent_in_chunks_is_read_whole() -> None:
    request, _ = request_receiving([
        {"type": "http.request", "body": b"grant_type=client_", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"credentials&scope=a%20b", "more_body": False},
    ])
    assert await read_form(request) == {"grant_type": "client_credentials", "scope": "a b"}


async def test_a_client_that_leaves_mid_body_is_a_bad_request_not_a_server_error() -> None:
    request, _ = request_receiving([{"type": "http.request", "body": b"grant_type=cl", "more_body": True}, {"type": "http.disconnect"}])
    with pytest.raises(InvalidRequest, match="closed the connection"):
        await read_form(request)


async def test_an_endless_body_without_a_length_is_refused_once_past_the_limit() -> None:
    chunk = b"a" * 16384
    endless = ({"type": "http.request", "body": chunk, "more_body": True} for _ in range(10_000))
    request, taken = request_receiving(endless)
    with pytest.raises(InvalidRequest, match=f"larger than {MAX_FORM_BYTES} bytes"):
        await read_form(request)
    # Reading stopped at the first chunk past the limit: nothing more is buffered.
    assert len(taken) == MAX_FORM_BYTES // len(chunk) + 1
