"""With TOKEN_SERVICE_METRICS_PORT, metrics leave the port a proxy forwards to the world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import free_port
from tests.support.serve_process import ServeProcess, running_serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServeProcess, int]]:
    metrics_port = free_port()
    with running_serve(tmp_path, {"TOKEN_SERVICE_METRICS_PORT": str(metrics_port)}) as running:
        yield running, metrics_port


def test_metrics_are_served_only_on_their_own_port(server: tuple[ServeProcess, int]) -> None:
    running, metrics_port = server
    assert httpx.get(f"{running.url}/healthz").status_code == 200
    assert httpx.get(f"{running.url}/metrics").status_code == 404
    scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert scrape.status_code == 200 and "token_service_requests_total" in scrape.text
    # The metrics port is not a second door into the service.
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/.well-known/openid-configuration").status_code == 404
    assert httpx.post(f"http://127.0.0.1:{metrics_port}/token", data={"grant_type": "client_credentials"}).status_code == 404
