from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from tests.support.live_server import LiveServer, free_port, live_server, wait_ready
from token_service.observability import access_writer
from token_service.observability.logging import configure_logging


@dataclass
class CapturedLogs:
    """Everything the process logged (structlog and stdlib, every logger) while the fixture ran."""

    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


def only_handler(handler: logging.Handler) -> None:
    """Leave `handler` alone on the root logger (pytest attaches its own for each test phase)."""
    root = logging.getLogger()
    for other in [h for h in root.handlers if h is not handler]:
        root.removeHandler(other)


@contextmanager
def json_logging_to(stream: io.StringIO) -> Iterator[logging.Handler]:
    """`configure_logging("json")` on `stream` for a while; the previous set-up afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    handler = configure_logging("json", stream=stream)
    only_handler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for previous in saved_handlers:
            root.addHandler(previous)
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)
        access_writer.install(None)


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    stream = io.StringIO()
    with json_logging_to(stream):
        yield CapturedLogs(stream)


@contextmanager
def resource_api(issuer: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The example resource API trusting `issuer`, started and ready (JWKS loaded)."""
    port = free_port()
    settings = ResourceApiSettings(
        issuer=issuer,
        audience=f"http://127.0.0.1:{port}",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/notes-{port}.db",
        jwks_retry_seconds=0.05,
    )
    with live_server(create_resource_app(settings), port=port) as server:
        wait_ready(server.url)
        yield server
