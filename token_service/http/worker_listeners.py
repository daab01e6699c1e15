"""A listening socket per worker process, so that the kernel spreads connections over them.

With one listening socket shared by every worker, the worker whose event loop wakes first
accepts every connection waiting in the queue (asyncio and uvloop accept until the queue is
empty). Clients that open their connections together and keep them alive (a reverse
proxy's pool, an HTTP/1.1 client pool, a load generator) can all land on one worker and
leave the other cores idle: 16 keep-alive connections on one of two workers, and 48 against
16 at 64 connections, were measured with `token-service serve`. With SO_REUSEPORT each
worker listens on a socket of its own bound to the same address, and the kernel gives each
new connection to one of them by a hash of its addresses.

uvicorn's supervisor hands every worker the same list of sockets, pickled when it spawns
the worker. The supervisor's socket here is bound but never listens (a TCP socket receives
connections only once it listens): it holds the address, so that a port already in use
stops start-up before any worker runs, and what a worker unpickles is a new socket of its
own, bound to the same address, on which uvicorn then listens.

Every socket here is made with the protocol named (IPPROTO_TCP), not left at 0: asyncio
turns Nagle's algorithm off (TCP_NODELAY) only on accepted sockets whose protocol says TCP,
and with it on, a response written in two parts waited ~40 ms for the client's delayed
ACK on every request (measured with `serve` on the asyncio loop, as where uvloop is not
installed: 44 ms per request, against 1.7 ms on uvloop, which sets it regardless).

The cost: connections still queued on a worker's socket when that worker exits are reset
rather than taken by another worker (Linux can migrate them: `net.ipv4.tcp_migrate_req=1`).
"""

from __future__ import annotations

import socket
from typing import Any, SupportsIndex


def tcp_socket(family: int) -> socket.socket:
    """A TCP socket whose accepted connections asyncio sets TCP_NODELAY on (see above)."""
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def worker_listener(family: int, address: Any) -> socket.socket:
    """In a worker: its own socket on the supervisor's address (uvicorn makes it listen)."""
    sock = tcp_socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


class AddressForWorkers(socket.socket):
    """The supervisor's bound, never-listening socket; each worker that unpickles it gets its own."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (worker_listener, (self.family, self.getsockname()))


def address_for_workers(family: int) -> AddressForWorkers:
    """Unbound; the caller binds it (and reports a port in use in its own words)."""
    sock = AddressForWorkers(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock
