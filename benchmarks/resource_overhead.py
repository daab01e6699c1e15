"""Requests/s of an endpoint with and without bearer-token authentication, in the same run.

    uv run python -m benchmarks.resource_overhead [--seconds 10] [--connections 16]

Two comparisons, each loaded by wrk in turn with a real token from a real token service:
- the resource API's own `GET /notes` (guards, dependencies, a database query), served
  once normally and once by an identical process whose verifier skips the check and
  hands back the token's claims (authentication turned off, everything else equal);
- a trivial handler served twice by one app: behind the shared BearerAuthPlugin and on
  a path excluded from authentication (the worst case: no work besides authentication).
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.process
import tempfile
import time

import httpx

from benchmarks.support import free_port, run_wrk, table
from benchmarks.tokens import AUDIENCE, fetch_token, issuer_with_client


def serve_app(issuer: str, port: int) -> None:
    import uvicorn
    from litestar import Litestar, Request, get

    from shared import AccessTokenVerifier, JwksCache
    from shared.litestar import BearerAuthPlugin

    @get(["/auth/ping", "/open/ping"])
    async def ping(request: Request) -> dict[str, str]:  # type: ignore[type-arg]
        return {"ok": "yes"}

    jwks = JwksCache(issuer)
    verifier = AccessTokenVerifier(jwks, issuer=issuer, audience=AUDIENCE)
    app = Litestar([ping], plugins=[BearerAuthPlugin(verifier, exclude=("^/open/",))])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_resource_api(issuer: str, port: int, database: str, verify: bool) -> None:
    import uvicorn

    from resource_api.app import create_app
    from resource_api.settings import ResourceApiSettings
    from shared import AccessTokenVerifier

    if not verify:
        real_verify = AccessTokenVerifier.verify
        remembered: dict[str, object] = {}

        async def claims_without_checking(self: AccessTokenVerifier, token: str, *, required_scopes: object = ()) -> object:
            # Authentication off: the claims of the (one) benchmark token, checked once only.
            if token not in remembered:
                remembered[token] = await real_verify(self, token)
            return remembered[token]

        AccessTokenVerifier.verify = claims_without_checking  # type: ignore[assignment,method-assign]
    settings = ResourceApiSettings(issuer=issuer, audience=AUDIENCE, port=port, database_url=f"sqlite+aiosqlite:///{database}")
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(target: object, *args: object) -> tuple[multiprocessing.process.BaseProcess, str]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(*args[:1], port, *args[1:]), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{port}"


def wait_for(url: str, headers: dict[str, str]) -> None:
    for _ in range(150):
        try:
            if httpx.get(url, headers=headers).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with issuer_with_client() as (server, client_id, secret), tempfile.TemporaryDirectory() as data:
        token = fetch_token(server, client_id, secret)
        bearer = {"Authorization": f"Bearer {token}"}
        script_notes = f'wrk.path = "/notes"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
        rows = []
        for label, verify in (("GET /notes, token verified", True), ("GET /notes, verification off", False)):
            process, url = start(serve_resource_api, server.url, f"{data}/{int(verify)}.db", verify)
            wait_for(f"{url}/notes", bearer)
            run_wrk(url, script_notes, connections=args.connections, seconds=2)
            result = run_wrk(url, script_notes, connections=args.connections, seconds=args.seconds)
            rows.append([label, result.rate, result.p50_ms, result.p99_ms, result.non2xx])
            process.terminate()

        process, url = start(serve_app, server.url)
        wait_for(f"{url}/auth/ping", bearer)
        script_auth = f'wrk.path = "/auth/ping"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
        script_open = 'wrk.path = "/open/ping"\n'
        run_wrk(url, script_auth, connections=args.connections, seconds=2)
        authenticated = run_wrk(url, script_auth, connections=args.connections, seconds=args.seconds)
        unauthenticated = run_wrk(url, script_open, connections=args.connections, seconds=args.seconds)
        process.terminate()
    rows += [
        ["trivial handler, bearer JWT", authenticated.rate, authenticated.p50_ms, authenticated.p99_ms, authenticated.non2xx],
        ["trivial handler, no auth", unauthenticated.rate, unauthenticated.p50_ms, unauthenticated.p99_ms, unauthenticated.non2xx],
    ]
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx"], rows))
    print(f"\nresource API GET /notes with authentication keeps {float(rows[0][1]) / float(rows[1][1]):.0%} of its throughput without it")
    print(f"trivial handler with authentication keeps {authenticated.rate / unauthenticated.rate:.0%} of its throughput without it")


if __name__ == "__main__":
    main()
