"""The shared verifier's cost per token with a warm JWKS cache, beside bare joserfc.

    uv run python -m benchmarks.verify_cost [--iterations 20000]

Both sides verify the same RS256 token in the same process: the bare side is
`joserfc.jwt.decode` with the key already imported (signature only); the verifier
adds every RFC 9068 rule (typ, iss, aud, exp/nbf/iat, required claims, scope).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from joserfc import jwt
from joserfc.jwk import KeySet

from benchmarks.support import table
from benchmarks.tokens import AUDIENCE, fetch_token, issuer_with_client
from shared import AccessTokenVerifier, JwksCache


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def run(iterations: int) -> None:
    with issuer_with_client() as (server, client_id, secret):
        token = fetch_token(server, client_id, secret)
        cache = JwksCache(server.url)
        verifier = AccessTokenVerifier(cache, issuer=server.url, audience=AUDIENCE)
        await verifier.verify(token)  # warm: discovery, JWKS, key import
        import httpx

        keys = KeySet.import_key_set(httpx.get(f"{server.url}/jwks.json").json())
        key = keys.keys[0]

        bare: list[int] = []
        ours: list[int] = []
        for _ in range(2000):  # warm both paths
            jwt.decode(token, key, algorithms=["RS256"])
            await verifier.verify(token)
        for _ in range(iterations):
            start = time.perf_counter_ns()
            jwt.decode(token, key, algorithms=["RS256"])
            bare.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            await verifier.verify(token)
            ours.append(time.perf_counter_ns() - start)
        await cache.aclose()
    rows = [
        ["bare joserfc jwt.decode", percentile(bare, 0.5), percentile(bare, 0.99), statistics.fmean(bare) / 1000],
        ["shared AccessTokenVerifier.verify", percentile(ours, 0.5), percentile(ours, 0.99), statistics.fmean(ours) / 1000],
    ]
    print(table(["path", "p50 µs", "p99 µs", "mean µs"], rows))
    print(f"\nratio verifier ÷ bare (p50): {percentile(ours, 0.5) / percentile(bare, 0.5):.2f}  (mean: {statistics.fmean(ours) / statistics.fmean(bare):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20000)
    asyncio.run(run(parser.parse_args().iterations))


if __name__ == "__main__":
    main()
