"""Requests/s of one endpoint with and without bearer-token authentication, in the same run.

    uv run python -m benchmarks.resource_overhead [--seconds 10] [--connections 16]

One Litestar app serves the same handler twice: at /auth/ping behind the shared
BearerAuthPlugin (a real token from a real token service, verified against its
JWKS), and at /open/ping excluded from authentication. wrk loads each in turn.
"""

from __future__ import annotations

import argparse
import multiprocessing
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with issuer_with_client() as (server, client_id, secret):
        token = fetch_token(server, client_id, secret)
        port = free_port()
        process = multiprocessing.get_context("spawn").Process(target=serve_app, args=(server.url, port), daemon=True)
        process.start()
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{url}/auth/ping", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        script_auth = f'wrk.path = "/auth/ping"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
        script_open = 'wrk.path = "/open/ping"\n'
        run_wrk(url, script_auth, connections=args.connections, seconds=2)
        authenticated = run_wrk(url, script_auth, connections=args.connections, seconds=args.seconds)
        unauthenticated = run_wrk(url, script_open, connections=args.connections, seconds=args.seconds)
        process.terminate()
    rows = [
        ["/open/ping (no auth)", unauthenticated.rate, unauthenticated.p50_ms, unauthenticated.p99_ms, unauthenticated.non2xx],
        ["/auth/ping (bearer JWT)", authenticated.rate, authenticated.p50_ms, authenticated.p99_ms, authenticated.non2xx],
    ]
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx"], rows))
    print(f"\nauthenticated keeps {authenticated.rate / unauthenticated.rate:.0%} of the unauthenticated throughput")


if __name__ == "__main__":
    main()
