"""Token Status List: build time and size of a 1 M-token list, and a soak across list rollovers.

    uv run python -m benchmarks.status_lists [--tokens 1000000] [--list-size 131072] [--backend sqlite|postgres]

Part 1 builds the status list token for 2^20 tokens with several shares of them revoked
(compress + sign, as the token service does on every change) and prints its time and size.

Part 2 hands out `--tokens` indices exactly as the token endpoint does (blocks reserved from
the database, entries written in batches) on a simulated clock that moves one second
per 1 000 tokens, with 60 s access tokens: lists fill and roll over, expire, are dropped
(410) and their entries purged. Resident memory is printed every tenth of the run; with
lists expiring it stays flat instead of growing with the number of tokens issued.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import msgspec

from benchmarks.support import table
from shared.status_list import decode_lst, encode_lst
from tests.support.clock import FakeClock
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings, load_settings
from token_service.status import PublishedStatusLists, StatusIndices, StatusRevocations, status_list_store
from token_service.tokens.signer import TokenSigner

MILLION = 1 << 20


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


async def build_rows(settings: TokenServiceSettings) -> list[list[object]]:
    runtime = await open_runtime(settings, migrate_now=True)
    signer = TokenSigner(runtime.current_keys.current)
    rows: list[list[object]] = []
    try:
        for share in (0.0, 0.001, 0.01, 0.1):
            # Scattered at random, as revocations are: a regular pattern would compress far better.
            revoked = sorted(random.Random(1).sample(range(MILLION), int(MILLION * share)))
            times = []
            for _ in range(3):
                start = time.perf_counter()
                lst = encode_lst(MILLION, revoked)
                token, _ = signer.sign({"sub": "https://issuer/statuslists/x", "iat": 0, "exp": 1, "ttl": 10, "status_list": {"bits": 1, "lst": lst}}, "statuslist+jwt")
                times.append(time.perf_counter() - start)
            start = time.perf_counter()
            decode_lst(lst, max_bytes=MILLION // 8)
            decode_ms = (time.perf_counter() - start) * 1000
            rows.append([f"{share:.1%}", len(revoked), statistics.median(times) * 1000, len(token), decode_ms])
    finally:
        await runtime.close()
    return rows


async def soak(settings: TokenServiceSettings, tokens: int) -> list[list[object]]:
    clock = FakeClock()
    runtime = await open_runtime(settings, migrate_now=True, clock=clock)
    rows: list[list[object]] = []
    try:
        store = status_list_store(runtime.db_sessions, settings)
        published = PublishedStatusLists(store, TokenSigner(runtime.current_keys.current), issuer=settings.issuer, ttl=10, clock=clock)
        indices = StatusIndices(store, issuer=settings.issuer, block_size=settings.status_list_block, clock=clock)
        revocations = StatusRevocations(store, ttl=10, clock=clock)
        lists_seen: set[str] = set()
        started = time.perf_counter()
        purged = 0
        for n in range(tokens):
            if n % 1000 == 0:
                clock.advance(1)
                await indices.flush()
            await indices.ready()
            claim = indices.assign(jti=f"j{n}", client_id="bench", user_id=f"u{n % 5000}", family_id=None, expires_at=int(clock()) + settings.access_token_ttl)
            lists_seen.add(claim["status_list"]["uri"])
            if n % 20_000 == 0:
                await indices.flush()
                await revocations.revoke_user(f"u{n % 5000}")  # some bits flip: lists rebuild
                await published.sync()
                purged += await store.purge(int(clock()))
            if n and n % max(tokens // 10, 1) == 0:
                live = len(msgspec.json.decode(published.aggregation)["status_lists"])
                rows.append([n, len(lists_seen), live, purged, f"{rss_mib():.1f}", f"{n / (time.perf_counter() - started):.0f}"])
        await indices.flush()
    finally:
        await runtime.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--list-size", type=int, default=131072)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-status-") as data:
        env = {"TOKEN_SERVICE_DATA_DIR": str(Path(data))}
        overrides: dict[str, object] = {"status_list_size": args.list_size, "access_token_ttl": 60}
        if args.backend == "postgres":
            from benchmarks.token_throughput import drop_postgres, postgres_env

            env.update(postgres_env())
        try:
            settings = load_settings(env, **overrides)
            print("## status list token for 2^20 tokens: encode (zlib) + sign, as built on each change\n")
            print(table(["revoked share", "revoked", "build ms", "token bytes", "decode ms (verifier)"], asyncio.run(build_rows(settings))))
            print(f"\n## soak: {args.tokens} indices, lists of {args.list_size}, 60 s tokens, 1 000 tokens per simulated second\n")
            print(table(["indices issued", "lists used", "lists served", "entries purged", "RSS MiB", "indices/s (with DB records)"], asyncio.run(soak(settings, args.tokens))))
        finally:
            if args.backend == "postgres":
                drop_postgres(env)


if __name__ == "__main__":
    main()
