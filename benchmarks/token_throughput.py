"""Token endpoint throughput and efficiency against a running server.

For each backend (SQLite + in-process store; PostgreSQL + Redis) and grant
(client_credentials, the same with a DPoP proof per request (RFC 9449, ES256, reported
separately), the same with private_key_jwt client authentication (RFC 7523, an ES256
assertion per request), refresh_token, authorization_code with PKCE), runs wrk at
several concurrencies and prints requests/s, latency percentiles, the server's CPU time
per token and the ratio to the raw RSA-2048 signing rate measured in the same run.

    uv run python -m benchmarks.token_throughput [--seconds 10] [--backend sqlite|postgres|both]
    uv run python -m benchmarks.token_throughput --status-compare [--backend sqlite|postgres]

`--status-compare` runs only client_credentials, with Token Status List indices on and off
(TOKEN_SERVICE_STATUS_LIST_ENABLED), alternating on and off over `--rounds` rounds (default 2), and
prints the median rates (target: at most 5 % apart).

Needs wrk (`apt-get install wrk`); the PostgreSQL + Redis part needs both on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from tests.support.browser import Browser, query_of
from tests.support.client_keys import new_key, public_jwks, sign_assertion
from benchmarks.support import BIN, Server, WrkResult, raw_sign_rate, run_wrk, table, token_service
from shared.dpop.builder import DPoPKey

AUDIENCE = "http://127.0.0.1:8001"


def client_credentials_script(client_id: str, secret: str, scope: str | None = None) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    body = "grant_type=client_credentials" + (f"&scope={scope}" if scope else "")
    return f"""
wrk.method = "POST"
wrk.path = "/token"
wrk.body = "{body}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {basic}"
"""


def single_use_script(path: Path, body_template: str, client_id: str) -> str:
    """Each request spends the next pre-made credential (refresh tokens, codes are single use)."""
    return f"""
local tokens = {{}}
for line in io.lines("{path}") do tokens[#tokens + 1] = line end
local index = 0
request = function()
  index = index + 1
  local token = tokens[((index - 1) % #tokens) + 1]
  local body = string.format("{body_template}", token, "{client_id}")
  return wrk.format("POST", "/token", {{["Content-Type"] = "application/x-www-form-urlencoded"}}, body)
end
"""


def dpop_script(path: Path, client_id: str, secret: str) -> str:
    """client_credentials with the next pre-made DPoP proof in each request (a proof's jti is single use)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return f"""
local proofs = {{}}
for line in io.lines("{path}") do proofs[#proofs + 1] = line end
local index = 0
request = function()
  index = index + 1
  local headers = {{["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic {basic}",
                   ["DPoP"] = proofs[((index - 1) % #proofs) + 1]}}
  return wrk.format("POST", "/token", headers, "grant_type=client_credentials")
end
"""


def make_dpop_proofs(token_endpoint: str, count: int) -> Path:
    """Proofs of one ES256 key for POST /token, made ahead: the client's signing is not the server's cost."""
    key = DPoPKey.generate("ES256")
    handle, name = tempfile.mkstemp(suffix=".proofs")
    with os.fdopen(handle, "w") as out:
        out.writelines(key.proof("POST", token_endpoint) + "\n" for _ in range(count))
    return Path(name)


# RFC 7523 §2.2, percent-encoded for the form and with `%` doubled for Lua's string.format.
ASSERTION_BODY = "grant_type=client_credentials&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type%%3Ajwt-bearer&client_assertion=%s&client_id=%s"


def key_client(server: Server) -> tuple[str, Any]:
    """A client_credentials client that authenticates with private_key_jwt (an ES256 key of its own, registered as a JWKS file)."""
    key = new_key("ES256")
    handle, name = tempfile.mkstemp(suffix=".jwks.json")
    with os.fdopen(handle, "w") as out:
        json.dump(public_jwks(key), out)
    client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--auth", "private_key_jwt", "--jwks-file", name,
                                   "--scope", "notes:read", "--audience", AUDIENCE))
    os.unlink(name)
    return client["client_id"], key


def make_client_assertions(server: Server, client_id: str, key: Any, count: int) -> Path:
    """Client assertions made ahead (each jti is single use; the client's signing is not the server's cost)."""
    handle, name = tempfile.mkstemp(suffix=".assertions")
    with os.fdopen(handle, "w") as out:
        out.writelines(sign_assertion(key, client_id, f"{server.url}/token", header={"kid": key.kid}, lifetime=600) + "\n" for _ in range(count))
    return Path(name)


def with_services(server: Server, body: str) -> str:
    """Runs `body` (statements indented 8 spaces; `services` and a fresh local `user` in scope)
    in a process of its own on the server's settings and database; returns what it prints."""
    code = f"""
import time, uvloop
from token_service.settings import load_settings
from token_service.services import build_services
from token_service.observability.metrics import TokenServiceMetrics
from token_service.runtime import open_runtime
async def main():
    settings = load_settings()
    runtime = await open_runtime(settings)
    services = build_services(settings, runtime, TokenServiceMetrics())
    try:
        user = await services.users.add_local_user("bench-" + "{secrets.token_hex(4)}", "bench-password-123")
{body}
    finally:
        await runtime.close()
uvloop.run(main())  # the event loop serve runs on
"""
    return subprocess.run([str(BIN / "python"), "-c", code], env=server.env, capture_output=True, text=True, check=True).stdout


def make_refresh_tokens(server: Server, client_id: str, count: int) -> Path:
    """Refresh-token families made directly in the service's database (a login per token would dominate)."""
    made = with_services(server, f"""
        for _ in range({count}):
            _, token = await services.refresh_tokens.start_family(client_id="{client_id}", user_id=user.id, scope="notes:read", resource=None, auth_time=0, session_id_hash=None)
            print(token)""")
    path = Path(tempfile.mkstemp(suffix=".txt")[1])
    path.write_text(made)
    return path


def rotation_cpu_us(server: Server, client_id: str, count: int) -> float:
    """CPU µs of one refresh rotation without HTTP or a signature, in a tight loop: hash,
    load and check the token, seal the successor response, claim it and insert the successor
    (`RefreshTokens.rotate` with a response built without signing). What a refresh must do
    beyond what a client_credentials token costs, so their sum is the refresh grant's floor."""
    return float(with_services(server, f"""
        tokens = [(await services.refresh_tokens.start_family(client_id="{client_id}", user_id=user.id, scope="notes:read", resource=None,
                                                              auth_time=0, session_id_hash=None))[1] for _ in range({count})]
        unsigned = "e" * 700  # about the size of the access token a refresh returns
        build = lambda context, successor: {{"access_token": unsigned, "token_type": "Bearer", "expires_in": 300, "refresh_token": successor, "scope": context.scope}}
        for token in tokens[:50]:
            await services.refresh_tokens.rotate(token, "{client_id}", build)
        start = time.process_time()
        for token in tokens[50:]:
            await services.refresh_tokens.rotate(token, "{client_id}", build)
        print((time.process_time() - start) / (len(tokens) - 50) * 1e6)"""))


REDIRECT_URI = "http://127.0.0.1:9/cb"
BENCH_PASSWORD = "bench-password-0123456789"


def signed_in_browsers(server: Server, client_id: str, count: int) -> list[Browser]:
    """`count` browsers sharing one signed-in session (one password login, as a user would)."""
    username = "bench-" + secrets.token_hex(4)
    server.cli("users", "add", username, "--password-stdin", stdin=BENCH_PASSWORD + "\n")
    first = Browser()
    first.login(server.url, client_id, REDIRECT_URI, username, BENCH_PASSWORD, scope="notes:read")
    browsers = [first]
    for _ in range(count - 1):
        browser = Browser()
        browser.http.cookies = first.http.cookies
        browsers.append(browser)
    return browsers


def make_codes(server: Server, browsers: list[Browser], client_id: str, count: int) -> Path:
    """Fresh authorization codes from real /authorize requests of a signed-in session.

    Each line is `code=...&code_verifier=...`. Codes live 60 s, so they are made right
    before the run that spends them, through the service itself (whatever store it runs on).
    """

    def some(browser: Browser, n: int) -> list[str]:
        lines = []
        for _ in range(n):
            location = browser.authorize(server.url, client_id, REDIRECT_URI, scope="notes:read")
            assert isinstance(location, str), "the signed-in session must get a code without a page"
            lines.append(urlencode({"code": query_of(location)["code"], "code_verifier": browser.last_verifier}))
        return lines

    share = count // len(browsers) + 1
    with ThreadPoolExecutor(len(browsers)) as pool:
        batches = list(pool.map(lambda b: some(b, share), browsers))
    path = Path(tempfile.mkstemp(suffix=".txt")[1])
    path.write_text("\n".join(line for batch in batches for line in batch) + "\n")
    return path


def measure(server: Server, script: str, connections: int, seconds: float) -> tuple[WrkResult, float]:
    before = server.cpu_seconds()
    result = run_wrk(server.url, script, connections=connections, seconds=seconds)
    return result, server.cpu_seconds() - before


def single_use_row(label: str, connections: int, result: WrkResult, cpu: float, raw: float, credentials: Path) -> list[object]:
    """A row of a single-use grant, which is valid only if no request reused a credential: the
    script starts over at the first line when it runs out, and a replayed refresh token within
    its grace window is answered without a signature, which would flatter the figures."""
    made = sum(1 for _ in credentials.open())
    if result.requests > made:
        raise SystemExit(f"{label} at {connections} connections sent {result.requests} requests for {made} pre-made credentials; "
                         "raise the count made per second in benchmarks/token_throughput.py")
    return row(label, connections, result, cpu, raw)


def row(label: str, connections: int, result: WrkResult, cpu: float, raw: float) -> list[object]:
    ok = result.requests - result.non2xx - result.errors
    per_cpu = ok / cpu if cpu else 0.0
    return [label, connections, result.rate, result.p50_ms, result.p99_ms, result.non2xx + result.errors, per_cpu, per_cpu / raw]


HEADERS = ["grant", "conns", "req/s", "p50 ms", "p99 ms", "failed", "tokens per server CPU-s", "÷ raw signs/s"]


def bench_backend(name: str, env: dict[str, str], seconds: float, raw: float) -> None:
    rows: list[list[object]] = []
    with token_service(env, workers=1) as server:
        client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--grant", "refresh_token", "--scope", "notes:read", "--audience", AUDIENCE))
        script = client_credentials_script(client["client_id"], client["client_secret"])
        run_wrk(server.url, script, connections=8, seconds=2)  # warm-up
        for connections in (1, 8, 32):
            result, cpu = measure(server, script, connections, seconds)
            rows.append(row("client_credentials", connections, result, cpu, raw))
        for connections in (8, 32):
            proofs = make_dpop_proofs(f"{server.url}/token", int(seconds * 1800) + 500)
            result, cpu = measure(server, dpop_script(proofs, client["client_id"], client["client_secret"]), connections, seconds)
            rows.append(single_use_row("client_credentials + DPoP", connections, result, cpu, raw, proofs))
            proofs.unlink()
        key_client_id, key = key_client(server)
        for connections in (8, 32):
            assertions = make_client_assertions(server, key_client_id, key, int(seconds * 1800) + 500)
            result, cpu = measure(server, single_use_script(assertions, ASSERTION_BODY, key_client_id), connections, seconds)
            rows.append(single_use_row("client_credentials, private_key_jwt (ES256)", connections, result, cpu, raw, assertions))
            assertions.unlink()
        public = json.loads(server.cli("clients", "add", "--grant", "authorization_code", "--grant", "refresh_token", "--public",
                                       "--redirect-uri", "http://127.0.0.1:9/cb", "--scope", "notes:read offline_access", "--audience", AUDIENCE))
        for connections in (8, 32):
            tokens = make_refresh_tokens(server, public["client_id"], int(seconds * 2500) + 500)
            body = "grant_type=refresh_token&refresh_token=%s&client_id=%s"
            result, cpu = measure(server, single_use_script(tokens, body, public["client_id"]), connections, seconds)
            rows.append(single_use_row("refresh_token", connections, result, cpu, raw, tokens))
            tokens.unlink()
        rotation_us = rotation_cpu_us(server, public["client_id"], 2050)
        # Code redemption with PKCE: access token only (no openid, no refresh token), one signature.
        spa = json.loads(server.cli("clients", "add", "--grant", "authorization_code", "--public", "--first-party",
                                    "--redirect-uri", REDIRECT_URI, "--scope", "notes:read", "--audience", AUDIENCE))
        browsers = signed_in_browsers(server, spa["client_id"], 4)
        for connections in (8, 32):
            codes = make_codes(server, browsers, spa["client_id"], int(seconds * 1500) + 500)
            # %% : the template is a Lua format string, and the encoded URI holds % escapes.
            redirect = quote(REDIRECT_URI, safe="").replace("%", "%%")
            body = f"grant_type=authorization_code&%s&redirect_uri={redirect}&client_id=%s"
            result, cpu = measure(server, single_use_script(codes, body, spa["client_id"]), connections, seconds)
            rows.append(single_use_row("authorization_code", connections, result, cpu, raw, codes))
            codes.unlink()
    print(f"\n## {name}, 1 worker\n")
    print(table(HEADERS, rows))
    # The cheapest client_credentials row: a floor is a lower bound, and a busy spell of the machine only adds.
    client_credentials_us = min(1e6 / float(r[6]) for r in rows if r[0] == "client_credentials")
    floor_us = client_credentials_us + rotation_us
    print(f"\nrefresh floor: a client_credentials token ({client_credentials_us:.0f} µs of CPU, its cheapest row) + the rotation "
          f"without HTTP or signature in a tight loop ({rotation_us:.0f} µs) = {floor_us:.0f} µs, {1e6 / floor_us / raw:.2f} ÷ raw; "
          f"0.45 ÷ raw allows {1e6 / (0.45 * raw):.0f} µs")


def bench_all_cores(env: dict[str, str], seconds: float, raw: float) -> None:
    cores = os.cpu_count() or 1
    with token_service(env, workers=cores) as server:
        client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", AUDIENCE))
        script = client_credentials_script(client["client_id"], client["client_secret"])
        run_wrk(server.url, script, connections=16, seconds=2)
        result, cpu = measure(server, script, 32, seconds)
    capacity = cores * raw
    print(f"\n## client_credentials, production settings: {cores} workers on PostgreSQL + Redis, 32 connections\n")
    print(table(
        ["tokens/s", "machine raw signs/s (cores × raw)", "share of capacity", "server CPU-s", "wrk CPU-s", "wrk share of CPU"],
        [[result.rate, capacity, result.rate / capacity, cpu, result.wrk_cpu_seconds, result.wrk_cpu_seconds / (cpu + result.wrk_cpu_seconds)]],
    ))


STATUS_ROUNDS = 2


def bench_status_compare(env: dict[str, str], seconds: float, rounds: int = STATUS_ROUNDS) -> None:
    """client_credentials with and without a status list entry per token, alternating on/off.

    Each round runs a fresh server with indices on, then one with them off; the figures are
    the medians over the rounds, so a slow spell of the machine weighs on both modes alike.
    """
    runs: dict[str, list[tuple[float, float, float, float]]] = {"true": [], "false": []}
    for _ in range(rounds):
        for enabled in ("true", "false"):
            with token_service({**env, "TOKEN_SERVICE_STATUS_LIST_ENABLED": enabled}, workers=1) as server:
                client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", AUDIENCE))
                script = client_credentials_script(client["client_id"], client["client_secret"])
                run_wrk(server.url, script, connections=8, seconds=2)  # warm-up
                result, cpu = measure(server, script, 16, seconds)
                runs[enabled].append((result.rate, result.p50_ms, result.p99_ms, cpu / max(result.requests, 1) * 1e6))
    rows: list[list[object]] = []
    rates: dict[str, float] = {}
    for enabled, label in (("true", "on"), ("false", "off")):
        rate, p50, p99, cpu_us = (statistics.median(run[column] for run in runs[enabled]) for column in range(4))
        rates[enabled] = rate
        rows.append([f"status indices {label}", rate, p50, p99, cpu_us, " ".join(f"{run[0]:.0f}" for run in runs[enabled])])
    print(f"\n## client_credentials, 16 connections, one worker: Token Status List on vs off (medians of {rounds} alternating rounds)\n")
    print(table(["mode", "tokens/s", "p50 ms", "p99 ms", "server CPU µs/token", "tokens/s per round"], rows))
    print(f"\nstatus on ÷ off: {rates['true'] / rates['false']:.3f} (target ≥ 0.95)")


def postgres_env() -> dict[str, str]:
    import asyncpg

    name = f"bench_{secrets.token_hex(4)}"

    async def create() -> None:
        connection = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(create())
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return {
        "TOKEN_SERVICE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
        "TOKEN_SERVICE_KEY_ENCRYPTION_KEY": kek,
        "TOKEN_SERVICE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "TOKEN_SERVICE_REDIS_PREFIX": f"{name}:",
    }


def drop_postgres(env: dict[str, str]) -> None:
    import asyncpg

    name = env["TOKEN_SERVICE_DATABASE_URL"].rsplit("/", 1)[1]

    async def drop() -> None:
        connection = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--status-compare", action="store_true", help="only client_credentials, status list indices on vs off")
    parser.add_argument("--rounds", type=int, default=STATUS_ROUNDS, help="--status-compare: alternating on/off rounds (medians reported)")
    args = parser.parse_args()
    if args.status_compare:
        if args.backend == "postgres":
            env = postgres_env()
            try:
                bench_status_compare(env, args.seconds, args.rounds)
            finally:
                drop_postgres(env)
        else:
            bench_status_compare({"TOKEN_SERVICE_LOG_FORMAT": "json"}, args.seconds, args.rounds)
        return
    raw = raw_sign_rate()
    print(f"raw RSA-2048 signing rate (cryptography, one core): {raw:.0f} signs/s ({1e6 / raw:.0f} µs each); cores: {os.cpu_count()}")
    # A password upstream, so the authorization_code rows can sign a user in.
    config = Path(tempfile.mkstemp(suffix=".toml")[1])
    config.write_text('[[upstreams]]\nname = "local"\nkind = "password"\n')
    env_log = {"TOKEN_SERVICE_LOG_FORMAT": "json", "TOKEN_SERVICE_CONFIG": str(config)}
    try:
        if args.backend in ("sqlite", "both"):
            bench_backend("SQLite + in-process store", env_log, args.seconds, raw)
        if args.backend in ("postgres", "both"):
            env = {**env_log, **postgres_env()}
            try:
                bench_backend("PostgreSQL + Redis", env, args.seconds, raw)
                bench_all_cores(env, args.seconds, raw)
            finally:
                drop_postgres(env)
    finally:
        config.unlink()


if __name__ == "__main__":
    main()
