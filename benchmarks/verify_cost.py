"""The shared verifier's cost per token with a warm JWKS cache, beside bare joserfc.

    uv run python -m benchmarks.verify_cost [--iterations 20000]

Both sides verify the same RS256 token in the same process: the bare side is
`joserfc.jwt.decode` with the key already imported (signature only); the verifier
adds every RFC 9068 rule (typ, iss, aud, exp/nbf/iat, required claims, scope).

The status row is the same verifier with the Token Status List check on (the token's
bit looked up in the held, fresh list); the no-status row is that verifier given no
status list cache, so the difference is what checking a cached status costs (target:
within 3 µs at p50).

The request rows are what an API pays per request through `RequestAuthenticator`
(what the Litestar and FastAPI integrations call): a bearer token, and a DPoP-bound
token with its ES256 proof (RFC 9449: proof parse, signature, htm/htu/iat/ath, key
binding, replay cache). Proofs are made before timing: that is the client's cost.
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
from shared.dpop import DPoPKey
from shared.dpop.resource import DPoPOptions, RequestAuthenticator
from shared.status_list import StatusListCache


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def run(iterations: int) -> None:
    with issuer_with_client() as (server, client_id, secret):
        token = fetch_token(server, client_id, secret)
        import httpx

        dpop_key = DPoPKey.generate("ES256")
        issued = httpx.post(
            f"{server.url}/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            headers={"DPoP": dpop_key.proof("POST", f"{server.url}/token")},
        )
        issued.raise_for_status()
        bound_token = str(issued.json()["access_token"])
        cache = JwksCache(server.url)
        verifier = AccessTokenVerifier(cache, issuer=server.url, audience=AUDIENCE)
        await verifier.verify(token)  # warm: discovery, JWKS, key import
        # Lists cached for the whole run: the row measures the lookup, not refetches.
        status_lists = StatusListCache(cache, min_ttl=3600)
        with_status = AccessTokenVerifier(cache, issuer=server.url, audience=AUDIENCE, status_lists=status_lists)
        await with_status.verify(token)
        authenticator = RequestAuthenticator(verifier, DPoPOptions(public_url=AUDIENCE))
        url = f"{AUDIENCE}/notes"
        proofs = [dpop_key.proof("GET", url, access_token=bound_token) for _ in range(iterations + 2000)]

        keys = KeySet.import_key_set(httpx.get(f"{server.url}/jwks.json").json())
        key = keys.keys[0]

        bearer_header = [f"Bearer {token}"]
        dpop_header = [f"DPoP {bound_token}"]
        bare: list[int] = []
        ours: list[int] = []
        checked: list[int] = []
        bearer_requests: list[int] = []
        dpop_requests: list[int] = []
        for index in range(2000):  # warm every path
            jwt.decode(token, key, algorithms=["RS256"])
            await verifier.verify(token)
            await with_status.verify(token)
            await authenticator.authenticate(authorization=bearer_header, dpop=[], method="GET", path="/notes")
            await authenticator.authenticate(authorization=dpop_header, dpop=[proofs[index]], method="GET", path="/notes")
        for index in range(2000, 2000 + iterations):
            start = time.perf_counter_ns()
            jwt.decode(token, key, algorithms=["RS256"])
            bare.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            await verifier.verify(token)
            ours.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            await with_status.verify(token)
            checked.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            await authenticator.authenticate(authorization=bearer_header, dpop=[], method="GET", path="/notes")
            bearer_requests.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            await authenticator.authenticate(authorization=dpop_header, dpop=[proofs[index]], method="GET", path="/notes")
            dpop_requests.append(time.perf_counter_ns() - start)
        await status_lists.aclose()
        await cache.aclose()
    rows = [
        ["bare joserfc jwt.decode", percentile(bare, 0.5), percentile(bare, 0.99), statistics.fmean(bare) / 1000],
        ["shared AccessTokenVerifier.verify (no status check)", percentile(ours, 0.5), percentile(ours, 0.99), statistics.fmean(ours) / 1000],
        ["... with the token status checked (cached list)", percentile(checked, 0.5), percentile(checked, 0.99), statistics.fmean(checked) / 1000],
        ["request: Bearer token", percentile(bearer_requests, 0.5), percentile(bearer_requests, 0.99), statistics.fmean(bearer_requests) / 1000],
        ["request: DPoP token + ES256 proof", percentile(dpop_requests, 0.5), percentile(dpop_requests, 0.99), statistics.fmean(dpop_requests) / 1000],
    ]
    print(table(["path", "p50 µs", "p99 µs", "mean µs"], rows))
    print(f"\nratio verifier ÷ bare (p50): {percentile(ours, 0.5) / percentile(bare, 0.5):.2f}  (mean: {statistics.fmean(ours) / statistics.fmean(bare):.2f})")
    print(f"status check cost (p50): {percentile(checked, 0.5) - percentile(ours, 0.5):+.2f} µs (target: within 3 µs)")
    print(f"ratio DPoP ÷ Bearer per request (p50): {percentile(dpop_requests, 0.5) / percentile(bearer_requests, 0.5):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20000)
    asyncio.run(run(parser.parse_args().iterations))


if __name__ == "__main__":
    main()
