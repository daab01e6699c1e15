"""Lines logged while a request runs carry its id and what the endpoint noted; later lines do not."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import structlog

from tests.observability.conftest import json_logging_to
from token_service.http.cors import AllowedOrigins
from token_service.http.edge import edge
from token_service.observability.access import note_request


async def no_origins() -> frozenset[str]:
    return frozenset()


async def endpoint(scope: Any, receive: Any, send: Any) -> None:
    logging.getLogger("token_service.grants").warning("before any fact")
    note_request(client_id="client-1")
    structlog.get_logger("token_service.tokens").info("signed", kid="k1")
    # A line's own key wins over a noted fact of the same name.
    logging.getLogger("token_service.grants").warning("own client", extra={"client_id": "explicit"})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})


async def test_lines_during_a_request_carry_its_id_and_facts() -> None:
    stream = io.StringIO()
    with json_logging_to(stream):
        app = edge(endpoint, observer=None, https=False, origins=AllowedOrigins(no_origins))

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            return None

        scope = {"type": "http", "method": "POST", "path": "/token", "headers": [(b"x-request-id", b"req-42")], "query_string": b""}
        await app(scope, receive, send)
        logging.getLogger("token_service.grants").warning("after the request")
    lines = {event["event"]: event for event in map(json.loads, stream.getvalue().splitlines())}
    assert lines["before any fact"]["request_id"] == "req-42" and "client_id" not in lines["before any fact"]
    assert lines["signed"]["request_id"] == "req-42" and lines["signed"]["client_id"] == "client-1" and lines["signed"]["kid"] == "k1"
    assert lines["own client"]["client_id"] == "explicit"
    assert lines["request"]["client_id"] == "client-1"  # the access line
    assert "request_id" not in lines["after the request"] and "client_id" not in lines["after the request"]
