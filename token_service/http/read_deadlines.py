"""Deadlines on reading a request, which uvicorn does not have.

uvicorn (0.30-0.54) times out idle keep-alive connections only. A connection that sends its
request line and headers one byte every few seconds (slow loris), or a body that
trickles, holds a socket and a connection slot for as long as the client likes; a few
hundred of them exhaust the worker. The ASGI app cannot help: it is called only once
the headers are complete. So the deadline lives in the HTTP protocol: uvicorn's
httptools protocol with three additions.

- the request line and headers must arrive within `header_timeout` seconds of the
  connection opening (or, on a kept-alive connection, of the next request's first byte),
  and within `MAX_HEADER_BYTES`;
- the body must arrive within `body_timeout` seconds of the headers.
- a connection that misses either is closed; a handler waiting for the body sees a
  disconnect.

This module leans on uvicorn's protocol class and the httptools parser callbacks
(`on_message_begin`, `on_headers_complete`, `on_message_complete`); pyproject pins the
uvicorn range it was checked against, and tests/security/test_slow_clients.py drives a
real `serve` with slow clients.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
PROTOCOL = "token_service.http.read_deadlines:ReadDeadlineProtocol"


class ServeConfig(uvicorn.Config):
    """uvicorn's Config plus the two deadlines; a module-level class, so worker processes
    (which receive the config pickled) get them too."""

    def __init__(self, app: Any, *, header_timeout: float, body_timeout: float, **options: Any) -> None:
        super().__init__(app, http=PROTOCOL, **options)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout


class ReadDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout: float = getattr(config, "header_timeout", 10.0)
        self._body_timeout: float = getattr(config, "body_timeout", 30.0)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes: int | None = 0

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.debug("closing a connection that did not send its request in time")
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_bytes is not None:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_bytes is None:  # the next request on a kept-alive connection
            self._header_bytes = 0
            self._arm(self._header_timeout)

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        self._arm(self._body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()
