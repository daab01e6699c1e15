"""The token service beside node-oidc-provider on the same machine, in the same run.

Both issue RS256 `at+jwt` access tokens for client_credentials (one client, secret in
HTTP Basic, scope notes:read, one audience). The peer is `oidc-provider` 9 in one Node.js
process (benchmarks/peer/, installed here with `npm ci`); ours is `token-service serve`
with its default worker count, on the embedded default (SQLite, no Redis) and on
PostgreSQL + Redis. Both servers run for the whole comparison and wrk loads one at a
time, alternating which goes first in each round. Printed per configuration and
connection count: the throughput ratio, tokens per server CPU-second of each as a
fraction of the raw RSA-2048 signing rate of one core measured in the same run, and
p50/p99 of each. Last, the same against two floors that only sign a token of the same
kind (no authentication, no logging), served as `serve` serves (a worker per core, a
socket per worker): the smallest Litestar route, and a bare ASGI app under uvicorn, the
ratio no token endpoint on this stack can pass.

    uv run python -m benchmarks.peer_oidc_provider [--seconds 10] [--rounds 2] [--backend sqlite|postgres|both] [--no-floor]

Needs wrk (`apt-get install wrk`), Node.js with npm, and for the PostgreSQL + Redis part
both on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.support import ROOT, Server, WrkResult, free_port, raw_sign_rate, run_wrk, table, token_service, wait_until_ready
from benchmarks.framework_floor import reference_app
from benchmarks.token_throughput import client_credentials_script, drop_postgres, postgres_env

PEER_DIR = ROOT / "benchmarks" / "peer"
AUDIENCE = "http://127.0.0.1:8001"
SCOPE = "notes:read"
CONNECTIONS = (16, 64)
FLOORS = {"litestar_route": "floor: minimal Litestar route", "bare": "floor: bare ASGI app"}


def install_peer() -> None:
    if shutil.which("npm") is None:
        raise SystemExit("npm is not installed: the peer (node-oidc-provider) needs Node.js and npm")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER_DIR, check=True)


@contextmanager
def peer_server(client_id: str, secret: str) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "PEER_PORT": str(port),
        "PEER_ISSUER": f"http://127.0.0.1:{port}",
        "PEER_CLIENT_ID": client_id,
        "PEER_CLIENT_SECRET": secret,
        "PEER_AUDIENCE": AUDIENCE,
    }
    process = subprocess.Popen(["node", "server.mjs"], cwd=PEER_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, path="/.well-known/openid-configuration")
        yield Server(url, process, env)
    finally:
        process.terminate()
        process.wait(10)


def check_token(url: str, client_id: str, secret: str) -> None:
    """Both servers must issue what is compared: an RS256 `at+jwt` for the audience."""
    response = httpx.post(f"{url}/token", data={"grant_type": "client_credentials", "scope": SCOPE}, auth=(client_id, secret), timeout=10)
    response.raise_for_status()
    header_b64, payload_b64, _ = response.json()["access_token"].split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    aud = payload["aud"] if isinstance(payload["aud"], str) else payload["aud"][0]
    if header["alg"] != "RS256" or header["typ"] != "at+jwt" or aud != AUDIENCE:
        raise SystemExit(f"{url} issued {header} for {aud}: not the token this benchmark compares")


@dataclass
class Totals:
    """wrk runs of one server at one connection count, summed over the rounds."""

    ok: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    failed: int = 0
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)

    def add(self, result: WrkResult, cpu: float) -> None:
        self.ok += result.requests - result.non2xx - result.errors
        self.failed += result.non2xx + result.errors
        self.seconds += result.seconds
        self.cpu += cpu
        self.p50.append(result.p50_ms)
        self.p99.append(result.p99_ms)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def efficiency(self, raw: float) -> float:
        return self.ok / self.cpu / raw if self.cpu else 0.0


def measure(server: Server, script: str, connections: int, seconds: float) -> tuple[WrkResult, float]:
    before = server.cpu_seconds()
    result = run_wrk(server.url, script, connections=connections, seconds=seconds, threads=1)
    return result, server.cpu_seconds() - before


@contextmanager
def our_service(env: dict[str, str]) -> Iterator[tuple[Server, str, str]]:
    """`token-service serve` with its default workers and one client_credentials client."""
    with token_service(env, workers=None) as ours:
        client = json.loads(ours.cli("clients", "add", "--grant", "client_credentials", "--scope", SCOPE, "--audience", AUDIENCE))
        yield ours, client["client_id"], client["client_secret"]


@contextmanager
def floor_route(name: str) -> Iterator[tuple[Server, str, str]]:
    """A reference app that only signs (benchmarks.floor_apps), served as `serve` serves:
    the minimal Litestar route, and the bare ASGI app (uvicorn alone), which is what a token
    endpoint answered from the ASGI entry point (token_service/http/direct.py) could reach at best."""
    with reference_app(name, every_core=True) as floor:
        yield floor, "floor-client", secrets.token_urlsafe(32)


def compare(name: str, ours_cm: AbstractContextManager[tuple[Server, str, str]], args: argparse.Namespace, raw: float,
            *, check_ours: bool = True) -> list[list[object]]:
    with ours_cm as (ours, client_id, secret), peer_server(client_id, secret) as peer:
        servers = {"ours": ours, "peer": peer}
        script = client_credentials_script(client_id, secret, SCOPE)
        for who, server in servers.items():
            if who == "peer" or check_ours:
                check_token(server.url, client_id, secret)
            run_wrk(server.url, script, connections=16, seconds=2, threads=1)  # warm-up
        totals = {(who, c): Totals() for who in servers for c in args.connections}
        for round_number in range(args.rounds):
            order = ["ours", "peer"] if round_number % 2 == 0 else ["peer", "ours"]
            for connections in args.connections:
                for who in order:
                    totals[who, connections].add(*measure(servers[who], script, connections, args.seconds))
    rows: list[list[object]] = []
    for connections in args.connections:
        mine, theirs = totals["ours", connections], totals["peer", connections]
        rows.append([
            name, connections, mine.rate, theirs.rate, mine.rate / theirs.rate if theirs.rate else 0.0,
            mine.efficiency(raw), theirs.efficiency(raw), max(mine.p50), max(mine.p99), max(theirs.p50), max(theirs.p99),
            f"{mine.failed}/{theirs.failed}",
        ])
    return rows


HEADERS = ["configuration", "conns", "ours tok/s", "peer tok/s", "ratio", "ours ÷ raw per CPU-s", "peer ÷ raw per CPU-s",
           "ours p50 ms", "ours p99 ms", "peer p50 ms", "peer p99 ms", "failed ours/peer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each server per connection count")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--connections", type=int, nargs="+", default=list(CONNECTIONS))
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="leave out the floors: the minimal Litestar route and the bare ASGI app that only sign, served as serve serves, against the peer")
    args = parser.parse_args()
    install_peer()
    load = os.getloadavg()
    raw = raw_sign_rate()
    print(f"raw RSA-2048 signing rate (cryptography, one core): {raw:.0f} signs/s; cores: {os.cpu_count()}; "
          f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    env_log = {"TOKEN_SERVICE_LOG_FORMAT": "json"}
    rows: list[list[object]] = []
    if args.backend in ("sqlite", "both"):
        rows += compare("embedded default", our_service(env_log), args, raw)
    if args.backend in ("postgres", "both"):
        env = {**env_log, **postgres_env()}
        try:
            rows += compare("PostgreSQL + Redis", our_service(env), args, raw)
        finally:
            drop_postgres(env)
    if args.floor:
        # The floor signs a fixed token of the same kind and size, for no client in particular.
        for name, label in FLOORS.items():
            rows += compare(label, floor_route(name), args, raw, check_ours=False)
    print(f"\n## token-service serve (default workers) vs node-oidc-provider (one process), {args.rounds} alternating "
          f"round(s) of {args.seconds:.0f} s each; p50/p99 the worst round\n")
    print(table(HEADERS, rows))
    print(f"\nload average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
