"""What each fast path that steps around a library's generic path saves, per token request.

Each is measured as an A/B of the whole request, in process, on the app's own ASGI
entry point (no HTTP server, no load generator: only the service's own CPU is timed),
with the fast path on and with the library's path put back, in alternating batches:

- the hand-assembled JWS (tokens/signer.py) against joserfc's `jwt.encode`,
  on client_credentials;
- the direct access-log writer (observability/access_writer.py) against the stdlib
  logging + structlog chain, on client_credentials;
- the refresh rotation's statements on asyncpg itself (db/refresh_rotation.py) against
  the same Core statements through SQLAlchemy's execution layer, on refresh_token with
  PostgreSQL (skipped when PostgreSQL is not on 127.0.0.1);
- the same statements on a sqlite3 connection of the process's own, on the event loop
  (db/sqlite_direct.py), against SQLAlchemy on aiosqlite's thread, on refresh_token with
  the embedded default (SQLite);
- the user lookup on asyncpg itself (users/directory.py, db/asyncpg_statements.py) against
  the same Core statement through SQLAlchemy, on authorization_code redemption with PostgreSQL,
  and the same on SQLite's direct connection (db/sqlite_direct.py);
- the direct token route (http/direct.py: `POST /token` answered from the ASGI entry point)
  against Litestar's router and route pipeline serving the same handler (`POST /token/`),
  on client_credentials.

The STYLE rule: a fast path that gains under 5 % of its request is dropped.

    uv run python -m benchmarks.fast_paths [--requests 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from unittest import mock

from joserfc import jwt
from litestar import Litestar

from benchmarks.support import table
from benchmarks.token_throughput import drop_postgres, postgres_env
from token_service.app import build_services, create_app
from token_service.db.refresh_rotation import RotationStore
from token_service.grants.codes import CodeGrant
from token_service.observability import access_writer
from token_service.observability.logging import configure_logging
from token_service.observability.metrics import TokenServiceMetrics
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings, load_settings
from token_service.tokens.signer import TokenSigner
from token_service.users.directory import UserDirectory

AUDIENCE = "http://127.0.0.1:8001"
SECRET = secrets.token_urlsafe(32)
GAIN_FLOOR = 0.05
# `POST /token` is served by the direct route (http/direct.py); `/token/` by Litestar's
# router and route pipeline, to the same handler: the library path of that fast path.
TOKEN_PATH = "/token"
ASYNCPG_ROTATION = "asyncpg rotation statements vs SQLAlchemy execution"
SQLITE_ROTATION = "sqlite3 rotation on the event loop vs SQLAlchemy on aiosqlite"
ASYNCPG_USER_LOOKUP = "asyncpg user lookup vs SQLAlchemy Core"
SQLITE_USER_LOOKUP = "sqlite3 user lookup on the event loop vs SQLAlchemy Core"



@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """The ASGI lifespan, driven by hand: startup before the first request, shutdown after."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def post(app: Litestar, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0
    path = TOKEN_PATH

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode()), *headers],
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status


Request = Callable[[], Awaitable[int]]


async def cpu_per_request(request: Request, count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        status = await request()
        if status != 200:
            raise RuntimeError(f"the token endpoint answered {status}")
    return (time.process_time() - start) / count


async def a_b(request: Request, library_path: Callable[[], Any], count: int, rounds: int) -> tuple[float, float]:
    """CPU seconds per request with the fast path and with the library's path: the medians of
    back-to-back pairs of batches (a pair shares the machine's load of its moment)."""
    fast, slow = [], []
    for _ in range(rounds):
        fast.append(await cpu_per_request(request, count))
        with library_path():
            slow.append(await cpu_per_request(request, count))
    return statistics.median(fast), statistics.median(slow)


def library_sign(self: TokenSigner, claims: dict[str, Any], typ: str) -> tuple[str, str]:
    """The generic path the signer replaces: joserfc builds and encodes the header per token."""
    snapshot = self._snapshot()
    key, kid = snapshot.signer, snapshot.signer_kid
    assert key is not None and kid is not None
    return jwt.encode({"alg": "RS256", "typ": typ, "kid": kid}, claims, key, algorithms=["RS256"]), kid


@contextmanager
def joserfc_signing() -> Iterator[None]:
    with mock.patch.object(TokenSigner, "sign", library_sign):
        yield


@contextmanager
def litestar_route() -> Iterator[None]:
    with mock.patch(f"{__name__}.TOKEN_PATH", "/token/"):
        yield


@contextmanager
def generic_access_log() -> Iterator[None]:
    writer = access_writer.installed()
    access_writer.install(None)
    try:
        yield
    finally:
        access_writer.install(writer)


@contextmanager
def sqlalchemy_rotation() -> Iterator[None]:
    original = RotationStore.connect

    @asynccontextmanager
    async def through_sqlalchemy(self: RotationStore) -> AsyncIterator[Any]:
        saved = self._asyncpg, self._sqlite
        self._asyncpg, self._sqlite = False, None
        try:
            async with original(self) as connection:
                yield connection
        finally:
            self._asyncpg, self._sqlite = saved

    with mock.patch.object(RotationStore, "connect", through_sqlalchemy):
        yield


@contextmanager
def sqlalchemy_user_lookup() -> Iterator[None]:
    original = UserDirectory.get

    async def through_sqlalchemy(self: UserDirectory, user_id: str) -> Any:
        saved, self._user_by_id = self._user_by_id, None
        try:
            return await original(self, user_id)
        finally:
            self._user_by_id = saved

    with mock.patch.object(UserDirectory, "get", through_sqlalchemy):
        yield


def settings_for(data_dir: str, **extra: Any) -> TokenServiceSettings:
    clients = [
        {"client_id": "bench-machine", "client_secret": SECRET, "grant_types": ["client_credentials"], "scope": "notes:read", "audience": AUDIENCE},
        {"client_id": "bench-app", "public": True, "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["http://127.0.0.1:9/cb"],
         "scope": "notes:read offline_access", "audience": AUDIENCE},
    ]
    environ = {"TOKEN_SERVICE_DATA_DIR": data_dir, "TOKEN_SERVICE_LOG_FORMAT": "json", **extra}
    return load_settings(environ, clients=clients)


async def client_credentials_rows(count: int, rounds: int) -> list[list[object]]:
    settings = settings_for(tempfile.mkdtemp(prefix="bench-fast-"))
    basic = base64.b64encode(f"bench-machine:{SECRET}".encode())
    app = create_app(settings)
    async with running(app):
        request = lambda: post(app, b"grant_type=client_credentials", [(b"authorization", b"Basic " + basic)])  # noqa: E731
        await cpu_per_request(request, 50)  # warm-up
        signer = await a_b(request, joserfc_signing, count, rounds)
        writer = await a_b(request, generic_access_log, count, rounds)
        direct = await a_b(request, litestar_route, count, rounds)
    return [row("direct token route vs Litestar's route pipeline", "client_credentials", *direct),
            row("hand-assembled JWS vs joserfc jwt.encode", "client_credentials", *signer),
            row("direct access-log writer vs logging + structlog", "client_credentials", *writer)]


async def refresh_rows(env: dict[str, str], count: int, rounds: int, name: str) -> list[list[object]]:
    settings = settings_for(tempfile.mkdtemp(prefix="bench-fast-"), **env)
    runtime = await open_runtime(settings, migrate_now=True)
    services = build_services(settings, runtime, TokenServiceMetrics())
    user = await services.users.add_local_user("bench-" + secrets.token_hex(4), "bench-password-0123456789")
    tokens = [(await services.refresh_tokens.start_family(client_id="bench-app", user_id=user.id, scope="notes:read",
                                                          resource=None, auth_time=0, session_id_hash=None))[1]
              for _ in range(count * rounds * 2 + 60)]
    await runtime.close()
    spent = iter(tokens)
    app = create_app(settings)
    async with running(app):
        def request() -> Awaitable[int]:
            body = f"grant_type=refresh_token&refresh_token={next(spent)}&client_id=bench-app".encode()
            return post(app, body, [])

        await cpu_per_request(request, 50)
        rotation = await a_b(request, sqlalchemy_rotation, count, rounds)
    return [row(name, f"refresh_token ({'PostgreSQL' if env else 'SQLite'})", *rotation)]


async def code_rows(env: dict[str, str], count: int, rounds: int, name: str) -> list[list[object]]:
    settings = settings_for(tempfile.mkdtemp(prefix="bench-fast-"), **env)
    runtime = await open_runtime(settings, migrate_now=True)
    services = build_services(settings, runtime, TokenServiceMetrics())
    user = await services.users.add_local_user("bench-" + secrets.token_hex(4), "bench-password-0123456789")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    grant = CodeGrant(client_id="bench-app", redirect_uri="http://127.0.0.1:9/cb", code_challenge=challenge, nonce=None, user_id=user.id,
                      scope="notes:read", resource=None, auth_time=0, session_id_hash=None)
    codes = [await services.codes.issue(grant) for _ in range(count * rounds * 2 + 60)]
    await runtime.close()
    spent = iter(codes)
    app = create_app(settings)
    async with running(app):
        def request() -> Awaitable[int]:
            body = f"grant_type=authorization_code&code={next(spent)}&client_id=bench-app&redirect_uri=http://127.0.0.1:9/cb&code_verifier={verifier}"
            return post(app, body.encode(), [])

        await cpu_per_request(request, 50)
        lookup = await a_b(request, sqlalchemy_user_lookup, count, rounds)
    return [row(name, f"authorization_code ({'PostgreSQL' if env else 'SQLite'})", *lookup)]


def row(name: str, request: str, fast: float, slow: float) -> list[object]:
    gain = (slow - fast) / slow
    verdict = "keep" if gain >= GAIN_FLOOR else f"drop (< {GAIN_FLOOR:.0%})"
    return [name, request, fast * 1e6, slow * 1e6, (slow - fast) * 1e6, f"{gain:.1%}", verdict]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per batch")
    parser.add_argument("--rounds", type=int, default=5, help="alternating batches of each path")
    args = parser.parse_args()
    with open(os.devnull, "w") as sink:
        configure_logging("json", stream=sink)
        rows = asyncio.run(client_credentials_rows(args.requests, args.rounds))
        rows += asyncio.run(refresh_rows({}, args.requests, args.rounds, SQLITE_ROTATION))
        rows += asyncio.run(code_rows({}, args.requests, args.rounds, SQLITE_USER_LOOKUP))
        try:
            env = postgres_env()
        except OSError as exc:
            rows.append([ASYNCPG_ROTATION, "refresh_token", f"skipped: no PostgreSQL ({exc})", "", "", "", ""])
            rows.append([ASYNCPG_USER_LOOKUP, "authorization_code", f"skipped: no PostgreSQL ({exc})", "", "", "", ""])
        else:
            try:
                rows += asyncio.run(refresh_rows({k: v for k, v in env.items() if "REDIS" not in k}, args.requests, args.rounds, ASYNCPG_ROTATION))
                rows += asyncio.run(code_rows(env, args.requests, args.rounds, ASYNCPG_USER_LOOKUP))
            finally:
                drop_postgres(env)
    load = os.getloadavg()
    print(f"\n## fast paths: server CPU per token request, median of {args.rounds} alternating pairs of {args.requests}-request batches; load average {load[0]:.2f}\n")
    print(table(["fast path", "request", "fast µs", "library path µs", "saved µs", "gain", "verdict"], rows))


if __name__ == "__main__":
    main()
