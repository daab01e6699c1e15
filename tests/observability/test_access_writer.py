"""The access log's direct JSON path writes the same event as the generic logging path."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.observability.conftest import json_logging_to, only_handler
from token_service.http.cors import AllowedOrigins
from token_service.http.edge import edge
from token_service.observability.access import note_request


async def no_origins() -> frozenset[str]:
    return frozenset()


async def token_like(scope: Any, receive: Any, send: Any) -> None:
    note_request(client_id="client-1", grant_type="client_credentials", access_token="eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"spoofed")]})
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})


def scope(path: str = "/token/eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "headers": [(b"x-request-id", b"call-7")], "query_string": b""}


async def request_through_edge() -> list[tuple[bytes, bytes]]:
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    app = edge(token_like, observer=None, https=False, origins=AllowedOrigins(no_origins))
    await app(scope(), receive, send)
    return list(sent[0]["headers"])


@pytest.fixture
def json_logging() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    with json_logging_to(stream) as handler:
        yield stream, handler


def comparable(line: str) -> dict[str, Any]:
    event = json.loads(line)
    assert event.pop("timestamp").endswith("Z")
    assert isinstance(event.pop("duration_ms"), float)
    return event


async def test_direct_and_generic_paths_write_the_same_redacted_event(json_logging: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = json_logging
    only_handler(handler)
    records: list[logging.LogRecord] = []
    make_record = logging.getLogRecordFactory()

    def seen(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.msg == "request":  # the access event on the generic path (its formatter makes copies)
            records.append(record)
        return record

    logging.setLogRecordFactory(seen)
    try:
        headers = await request_through_edge()
        direct = stream.getvalue().splitlines()
        assert len(direct) == 1 and records == []

        # A second root handler (a test's capture, a host application's) makes the writer step aside.
        other = logging.StreamHandler(io.StringIO())
        logging.getLogger().addHandler(other)
        try:
            await request_through_edge()
        finally:
            logging.getLogger().removeHandler(other)
    finally:
        logging.setLogRecordFactory(make_record)
    generic = stream.getvalue().splitlines()[1:]
    assert len(generic) == 1 and len(records) == 1

    assert comparable(direct[0]) == comparable(generic[0])
    event = comparable(direct[0])
    assert event["access_token"] == "[redacted]"
    assert "eyJ" not in direct[0] and event["path"] == "/token/[redacted-jwt]"
    assert event["request_id"] == "call-7" and event["logger"] == "token_service.access" and event["level"] == "info"
    # The same serialisation on both paths: sorted keys, compact separators, UTF-8 kept as is.
    for line in (direct[0], generic[0]):
        assert line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # The endpoint's own x-request-id is replaced by the request's id, security headers added.
    assert (b"x-request-id", b"call-7") in headers and (b"x-request-id", b"spoofed") not in headers
    assert (b"x-content-type-options", b"nosniff") in headers


async def test_the_access_log_level_still_applies(json_logging: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = json_logging
    only_handler(handler)
    logging.getLogger("token_service.access").setLevel(logging.WARNING)
    try:
        await request_through_edge()
    finally:
        logging.getLogger("token_service.access").setLevel(logging.NOTSET)
    assert stream.getvalue() == ""


async def test_a_filter_on_the_access_logger_is_honoured(json_logging: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = json_logging
    only_handler(handler)
    access_logger = logging.getLogger("token_service.access")

    def drop_token_requests(record: logging.LogRecord) -> bool:
        return getattr(record, "path", "") == "/healthz"

    access_logger.addFilter(drop_token_requests)
    try:
        await request_through_edge()
    finally:
        access_logger.removeFilter(drop_token_requests)
    assert stream.getvalue() == ""


async def test_a_jwt_shaped_request_id_or_method_is_masked_on_the_direct_path(json_logging: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = json_logging
    only_handler(handler)
    shaped = b"eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"  # passes the request id's character rules

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    app = edge(token_like, observer=None, https=False, origins=AllowedOrigins(no_origins))
    await app({**scope("/token"), "method": shaped.decode(), "headers": [(b"x-request-id", shaped)]}, receive, send)
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert "eyJ" not in line
    assert event["request_id"] == "[redacted-jwt]" and event["method"] == "[redacted-jwt]" and event["status"] == 200
