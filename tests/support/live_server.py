"""Run a real ASGI app on a free loopback port in a background thread.

Tests talk to it over real HTTP, the way a deployed client or verifier would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


async def serve_lifespan(receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol for the small raw-ASGI stand-ins tests serve."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, app: Any, port: int | None = None, **uvicorn_options: Any) -> None:
        """`uvicorn_options` go to uvicorn.Config: `ssl_certfile`/`ssl_keyfile` serve https."""
        self.port = port or free_port()
        scheme = "https" if "ssl_certfile" in uvicorn_options else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        # As `serve` does: the app, not uvicorn, decides what X-Forwarded-For is worth.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", proxy_headers=False, **uvicorn_options
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("live server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start within 20 s")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def wait_ready(url: str, timeout: float = 15) -> None:
    """Until `{url}/readyz` answers 200 (a resource API has loaded its issuer's JWKS)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


@contextmanager
def live_server(app: Any, port: int | None = None, **uvicorn_options: Any) -> Iterator[LiveServer]:
    server = LiveServer(app, port, **uvicorn_options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
