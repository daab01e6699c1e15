"""A server the attacker controls: it answers anything and remembers every request it got."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar, Request, route

from tests.support.live_server import live_server

_EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@contextmanager
def running_attacker() -> Iterator[AttackerServer]:
    attacker = AttackerServer()
    with live_server(attacker.app) as server:
        attacker.url = server.url
        yield attacker


class AttackerServer:
    """Serves a JWKS-looking document at every path; a verifier that fetches it has already lost."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.url = ""

        @route(["/", "/{path:path}"], http_method=_EVERY_METHOD, sync_to_thread=False)
        def anything(request: Request[Any, Any, Any]) -> dict[str, Any]:
            self.requests.append(request.url.path)
            return {"keys": []}

        self.app = Litestar([anything])
