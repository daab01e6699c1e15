"""How close to raw RSA signing any Python token endpoint on this stack can get.

    uv run python -m benchmarks.framework_floor [--seconds 8]

Serves, one after the other under uvicorn with the options `token-service serve` uses
(httptools, uvloop, no access log, no Server header), and loads with wrk at 16 connections:

1. a bare ASGI app that only signs an access token (uvicorn's cost on top of the signature);
2. the smallest Litestar app with one route doing the same (adds the framework's cost);
3. the real token service, client_credentials on SQLite (adds client authentication,
   form parsing, access log, metrics, security headers, request id).

Each row prints tokens per server CPU-second ÷ the raw RSA-2048 signing rate of one core
measured in the same run, and the CPU µs per token the layer adds to the row above.
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
def reference_app(name: str) -> Iterator[Server]:
    port = free_port()
    command = [str(BIN / "uvicorn"), f"benchmarks.floor_apps:{name}", "--port", str(port), "--http", "httptools", "--loop", "uvloop",
               "--no-access-log", "--no-server-header", "--log-level", "warning"]
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


if __name__ == "__main__":
    main()
