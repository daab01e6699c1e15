"""How close to raw RSA signing any Python token endpoint on this stack can get.

    uv run python -m benchmarks.framework_floor [--seconds 8] [--latency]

Serves, one after the other under uvicorn with the options `token-service serve` uses
(httptools, uvloop, no access log, no Server header), and loads with wrk at 16 connections:

1. a bare ASGI app that only signs an access token (uvicorn's cost on top of the signature);
2. the smallest Litestar app with one route doing the same (adds the framework's cost);
3. the real token service, client_credentials on SQLite (adds client authentication,
   form parsing, access log, metrics, security headers, request id).

Each row prints tokens per server CPU-second ÷ the raw RSA-2048 signing rate of one core
measured in the same run, and the CPU µs per token the layer adds to the row above.

`--latency` adds the latency floor: the minimal Litestar route and the token service, each
with a worker per core and a listening socket per worker (`benchmarks.floor_serve`, as
`serve` runs), at 16 and 64 connections, beside connections ÷ throughput (Little's law:
the mean latency any server reaches at that throughput).
Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.support import BIN, ROOT, Server, free_port, raw_sign_rate, run_wrk, table, token_service, wait_until_ready
from benchmarks.token_throughput import AUDIENCE, client_credentials_script

FORM = 'wrk.method = "POST"\nwrk.path = "/token"\nwrk.body = "grant_type=client_credentials"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'


@contextmanager
def reference_app(name: str, *, every_core: bool = False) -> Iterator[Server]:
    """One worker under uvicorn; `every_core`: served as `serve` serves (benchmarks.floor_serve)."""
    port = free_port()
    command = [str(BIN / "uvicorn"), f"benchmarks.floor_apps:{name}", "--port", str(port), "--http", "httptools", "--loop", "uvloop",
               "--no-access-log", "--no-server-header", "--log-level", "warning"]
    if every_core:
        command = [str(BIN / "python"), "-m", "benchmarks.floor_serve", name, str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, path="/", accept_any_status=True)
        yield Server(url, process, {})
    finally:
        process.terminate()
        process.wait(10)


def per_token_cpu(server: Server, script: str, seconds: float) -> tuple[float, float]:
    """CPU µs per successful token and requests/s at 16 connections, after a warm-up."""
    run_wrk(server.url, script, connections=8, seconds=2)
    before = server.cpu_seconds()
    result = run_wrk(server.url, script, connections=16, seconds=seconds)
    cpu = server.cpu_seconds() - before
    ok = result.requests - result.non2xx - result.errors
    if ok == 0:
        raise RuntimeError(f"{server.url}: no successful request")
    return cpu / ok * 1e6, result.rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--latency", action="store_true", help="also latency at 16 and 64 connections with a worker per core")
    args = parser.parse_args()
    raw = raw_sign_rate()
    raw_us = 1e6 / raw
    measured: list[tuple[str, float, float]] = []
    for label, name in (("bare ASGI app + signature", "bare"), ("minimal Litestar route + signature", "litestar_route")):
        with reference_app(name) as server:
            measured.append((label, *per_token_cpu(server, FORM, args.seconds)))
    with token_service({"TOKEN_SERVICE_LOG_FORMAT": "json"}) as server:
        client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", AUDIENCE))
        measured.append(("token service, client_credentials", *per_token_cpu(server, client_credentials_script(client["client_id"], client["client_secret"]), args.seconds)))
    rows: list[list[object]] = []
    previous = raw_us
    for label, cpu_us, rate in measured:
        rows.append([label, rate, cpu_us, cpu_us - previous, raw_us / cpu_us])
        previous = cpu_us
    print(f"raw RSA-2048 signing (cryptography, one core): {raw:.0f} signs per CPU-second ({raw_us:.0f} µs each)\n")
    print(table(["server", "req/s", "CPU µs per token", "µs added to the row above (first: to raw)", "÷ raw signs/s"], rows))
    print(f"\nthe 0.60 × target (issue 18) allows {raw_us / 0.60 - raw_us:.0f} µs of CPU per token beside the signature; "
          f"the minimal Litestar route already uses {measured[1][1] - raw_us:.0f}")
    if args.latency:
        print("\n" + latency_table(args.seconds))


def latency_row(label: str, server: Server, script: str, connections: int, seconds: float) -> list[object]:
    run_wrk(server.url, script, connections=connections, seconds=2)
    before = server.cpu_seconds()
    result = run_wrk(server.url, script, connections=connections, seconds=seconds)
    cpu_us = (server.cpu_seconds() - before) / max(1, result.requests) * 1e6
    # Little's law: with every connection always waiting for its answer, the mean latency is
    # connections ÷ throughput, whatever the server does; the tail sits above it.
    return [label, connections, result.rate, cpu_us, connections / result.rate * 1e3, result.p50_ms, result.p90_ms, result.p99_ms,
            result.non2xx + result.errors]


def latency_table(seconds: float) -> str:
    """Latency at 16 and 64 connections of the minimal Litestar route and the token service,
    both with a worker per core and a listening socket per worker (as `serve` runs)."""
    rows: list[list[object]] = []
    with reference_app("litestar_route", every_core=True) as server:
        rows += [latency_row("minimal Litestar route, a worker per core", server, FORM, c, seconds) for c in (16, 64)]
    with token_service({"TOKEN_SERVICE_LOG_FORMAT": "json"}, workers=None) as server:
        client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", AUDIENCE))
        script = client_credentials_script(client["client_id"], client["client_secret"])
        rows += [latency_row("token service (serve's default workers)", server, script, c, seconds) for c in (16, 64)]
    return table(["server", "conns", "req/s", "CPU µs per token", "conns ÷ req/s ms", "p50 ms", "p90 ms", "p99 ms", "failed"], rows)


if __name__ == "__main__":
    main()
