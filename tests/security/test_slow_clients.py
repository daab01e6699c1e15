"""`serve` against slow clients (slow loris): a request that trickles in is cut off within
the configured deadlines, connections beyond the limit are refused, and the service
keeps answering everyone else."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serve_process import ServeProcess, running_serve

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
# What the deadline may overrun by on a loaded machine; without deadlines the
# connections stayed open for minutes.
SLACK = 4.0
TRICKLE_INTERVAL = 0.3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    env = {
        "TOKEN_SERVICE_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "TOKEN_SERVICE_HTTP_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "TOKEN_SERVICE_HTTP_MAX_CONCURRENCY": "8",
    }
    with running_serve(tmp_path_factory.mktemp("slow"), env) as running:
        yield running


def trickle(server: ServeProcess, preamble: bytes, drip: bytes, connections: int = 5) -> list[float]:
    """Opens `connections` sockets, sends `preamble`, then one byte of `drip` at a time;
    returns how long each stayed open (fails past the deadline plus slack)."""
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=1) for _ in range(connections)]
    opened = time.monotonic()
    lifetimes: dict[int, float] = {}
    for sock in socks:
        sock.sendall(preamble)
    index = 0
    while len(lifetimes) < len(socks):
        elapsed = time.monotonic() - opened
        assert elapsed < max(HEADER_TIMEOUT, BODY_TIMEOUT) + SLACK, f"{len(socks) - len(lifetimes)} slow connections still open after {elapsed:.1f} s"
        for number, sock in enumerate(socks):
            if number in lifetimes:
                continue
            try:
                sock.sendall(drip[index % len(drip) : index % len(drip) + 1])
                sock.settimeout(0.01)
                if sock.recv(1024) == b"":
                    lifetimes[number] = elapsed
            except TimeoutError:
                pass
            except OSError:
                lifetimes[number] = elapsed
        index += 1
        time.sleep(TRICKLE_INTERVAL)
    for sock in socks:
        sock.close()
    return list(lifetimes.values())


def test_headers_sent_a_byte_at_a_time_are_cut_off(server: ServeProcess) -> None:
    lifetimes = trickle(server, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
    assert min(lifetimes) >= HEADER_TIMEOUT - 0.5
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_trickling_body_is_cut_off(server: ServeProcess) -> None:
    preamble = b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
    lifetimes = trickle(server, preamble, b"grant_type=client_credentials&")
    assert min(lifetimes) >= BODY_TIMEOUT - 0.5
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_connections_beyond_the_limit_are_refused_with_503(server: ServeProcess) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(8)]
    try:
        time.sleep(0.5)
        assert httpx.get(f"{server.url}/healthz").status_code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.url}/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover after the held connections closed"
        time.sleep(0.2)
