"""`serve` with several workers gives each worker a listening socket of its own
(SO_REUSEPORT), so that keep-alive connections opened together reach every worker instead
of whichever worker woke first (token_service/http/worker_listeners.py)."""

from __future__ import annotations

import asyncio
import pickle
import socket
import sys
from collections.abc import Callable
import time
from pathlib import Path

import psutil
import pytest

from token_service.dev import listening_socket
from token_service.serve import bind
from tests.support.serve_process import running_serve

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads the listening sockets from /proc/net/tcp (Linux)")

TCP_LISTEN = "0A"


def listening_sockets(port: int) -> int:
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == TCP_LISTEN)


def wait_for_listeners(port: int, count: int) -> None:
    # serve answers once one worker is up; the other may still be importing.
    deadline = time.monotonic() + 60
    while listening_sockets(port) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listening_sockets(port) == count


def connections_per_worker(serve_pid: int, port: int) -> list[int]:
    """Established connections on `port` per worker (a child listening on it; not multiprocessing's resource tracker)."""
    counts = []
    for child in psutil.Process(serve_pid).children():
        mine = [c for c in child.net_connections(kind="tcp") if c.laddr and c.laddr.port == port]
        if any(c.status == psutil.CONN_LISTEN for c in mine):
            counts.append(sum(1 for c in mine if c.status == psutil.CONN_ESTABLISHED))
    return counts


def test_keep_alive_connections_opened_together_reach_both_workers(tmp_path: Path) -> None:
    with running_serve(tmp_path, workers=2) as serve:
        wait_for_listeners(serve.port, 2)
        clients = [socket.create_connection(("127.0.0.1", serve.port)) for _ in range(32)]
        try:
            deadline = time.monotonic() + 20
            while sum(spread := connections_per_worker(serve.process.pid, serve.port)) < 32 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sorted(spread) != [0, 32], f"all 32 connections on one worker: {spread}"
            assert len(spread) == 2 and min(spread) >= 1, spread
        finally:
            for client in clients:
                client.close()


def test_one_worker_listens_on_the_one_socket(tmp_path: Path) -> None:
    with running_serve(tmp_path, workers=1) as serve:
        assert listening_sockets(serve.port) == 1


def test_a_port_in_use_stops_a_multi_worker_start_with_the_setting_named(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(AssertionError) as stopped, running_serve(tmp_path, {"TOKEN_SERVICE_PORT": str(port)}, workers=2):
            pass
    finally:
        taken.close()
    assert f"cannot listen on 127.0.0.1:{port}" in str(stopped.value)


def test_a_second_instance_on_the_same_port_is_refused_rather_than_sharing_it(tmp_path: Path) -> None:
    # SO_REUSEPORT alone would let the second join the first's sockets and take half its connections.
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with running_serve(tmp_path / "first", workers=2) as first:
        wait_for_listeners(first.port, 2)
        with pytest.raises(AssertionError) as stopped, running_serve(tmp_path / "second", {"TOKEN_SERVICE_PORT": str(first.port)}, workers=2):
            pass
        assert listening_sockets(first.port) == 2
    assert f"cannot listen on 127.0.0.1:{first.port}" in str(stopped.value)


def one_worker_socket() -> socket.socket:
    return bind("127.0.0.1", 0)


def a_workers_own_socket() -> socket.socket:
    # What each worker gets when uvicorn's supervisor hands it the pickled address.
    with bind("127.0.0.1", 0, per_worker=True) as supervisor:
        return pickle.loads(pickle.dumps(supervisor))


def dev_socket() -> socket.socket:
    return listening_socket(0)


@pytest.mark.parametrize("make", [one_worker_socket, a_workers_own_socket, dev_socket], ids=["one worker", "per worker", "dev"])
def test_connections_accepted_on_the_asyncio_loop_send_without_nagle_delay(make: Callable[[], socket.socket]) -> None:
    # Where uvloop is missing uvicorn serves on asyncio, which turns Nagle's algorithm off only
    # when the listening socket says it is TCP; with it on, every response written in two parts
    # waited ~40 ms for the client's delayed ACK.
    async def accepted_nodelay(sock: socket.socket) -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accept, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            result = await asyncio.wait_for(seen, 10)
            writer.close()
            return result

    sock = make()
    sock.listen()
    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        assert runner.run(accepted_nodelay(sock)) != 0
