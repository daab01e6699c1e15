"""A web server for client ID metadata documents (draft-ietf-oauth-client-id-metadata-document):
each path serves what a test puts there, and can misbehave on demand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.live_server import LiveServer, serve_lifespan


@dataclass
class Served:
    body: bytes
    content_type: str = "application/json"
    cache_control: str = "max-age=300"
    status: int = 200
    delay: float = 0.0
    location: str | None = None


@dataclass
class DocumentServer:
    documents: dict[str, Served] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    base_url: str = ""

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def put_json(self, path: str, document: dict[str, Any], **options: Any) -> str:
        self.documents[path] = Served(json.dumps(document).encode(), **options)
        return self.url(path)

    def put_client(self, path: str, **fields: Any) -> str:
        """A client's document whose client_id is its own URL (unless `fields` says otherwise)."""
        return self.put_json(path, {"client_id": self.url(path), **fields})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        path = scope["path"]
        self.requests[path] = self.requests.get(path, 0) + 1
        served = self.documents.get(path, Served(b"not found", "text/plain", status=404))
        if served.delay:
            await asyncio.sleep(served.delay)
        headers = [(b"content-type", served.content_type.encode()), (b"cache-control", served.cache_control.encode())]
        if served.location:
            headers.append((b"location", served.location.encode()))
        await send({"type": "http.response.start", "status": served.status if not served.location else 302, "headers": headers})
        await send({"type": "http.response.body", "body": served.body})


@contextmanager
def document_server() -> Iterator[DocumentServer]:
    app = DocumentServer()
    server = LiveServer(app)
    app.base_url = server.url
    server.start()
    try:
        yield app
    finally:
        server.stop()
