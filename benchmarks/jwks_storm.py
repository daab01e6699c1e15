"""JWKS fetches under a cold start and under an unknown-kid flood.

    uv run python -m benchmarks.jwks_storm [--concurrent 500] [--seconds 35] [--cooldown 10]

Cold: N verifications start at once on an empty cache → how many JWKS fetches.
Flood: tokens with random unknown kids for a while → fetches per cooldown window.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import secrets
import time

from benchmarks.support import table
from benchmarks.tokens import AUDIENCE, fetch_token, issuer_with_client
from shared import AccessTokenVerifier, JwksCache, TokenRejected


def with_kid(token: str, kid: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    header["kid"] = kid
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
    return ".".join([encoded, *token.split(".")[1:]])


async def run(concurrent: int, seconds: float, cooldown: float) -> None:
    with issuer_with_client() as (server, client_id, secret):
        token = fetch_token(server, client_id, secret)
        cache = JwksCache(server.url, unknown_kid_cooldown=cooldown)
        verifier = AccessTokenVerifier(cache, issuer=server.url, audience=AUDIENCE)
        await asyncio.gather(*(verifier.verify(token) for _ in range(concurrent)))
        cold_fetches = cache.fetch_count

        before = cache.fetch_count
        start = time.monotonic()
        rejected = 0
        flooded = 0
        while time.monotonic() - start < seconds:
            flooded += 1
            try:
                await verifier.verify(with_kid(token, secrets.token_urlsafe(12)))
            except TokenRejected:
                rejected += 1
            await asyncio.sleep(0)
        elapsed = time.monotonic() - start
        flood_fetches = cache.fetch_count - before
        await cache.aclose()
    windows = max(1, math.ceil(elapsed / cooldown))  # a fetch may open each window
    print(table(
        ["scenario", "verifications", "JWKS fetches", "fetches per cooldown"],
        [
            [f"{concurrent} concurrent cold verifications", concurrent, cold_fetches, "-"],
            [f"unknown-kid flood over {elapsed:.1f} s (cooldown {cooldown:.0f} s)", flooded, flood_fetches, flood_fetches / windows],
        ],
    ))
    print(f"\nflood tokens rejected: {rejected} of {flooded}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=35, help="how long the unknown-kid flood lasts")
    parser.add_argument("--cooldown", type=float, default=10, help="the cache's unknown-kid cooldown")
    args = parser.parse_args()
    asyncio.run(run(args.concurrent, args.seconds, args.cooldown))


if __name__ == "__main__":
    main()
