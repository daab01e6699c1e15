"""Memory over a soak run: resident memory of each worker while tokens are issued.

    uv run python -m benchmarks.soak [--tokens 1000000] [--workers 1]

Issues client_credentials tokens with wrk until the count is reached and prints the
RSS of each server process at every tenth of the run, so growth is visible.
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.support import run_wrk, table, token_service
from benchmarks.token_throughput import AUDIENCE, client_credentials_script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    env = {"TOKEN_SERVICE_LOG_FORMAT": "json"}
    if args.workers > 1:
        env["TOKEN_SERVICE_REDIS_URL"] = "redis://127.0.0.1:6379/0"
        env["TOKEN_SERVICE_REDIS_PREFIX"] = f"soak-{int(time.time())}:"
    rows: list[list[object]] = []
    with token_service(env, workers=args.workers) as server:
        client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", AUDIENCE))
        script = client_credentials_script(client["client_id"], client["client_secret"])
        issued = 0
        rows.append([0, *[f"{mb:.1f}" for mb in server.rss_mb()]])
        step = args.tokens // 10
        while issued < args.tokens:
            result = run_wrk(server.url, script, connections=16, seconds=max(1, round(step / 1200)))
            issued += result.requests - result.non2xx - result.errors
            rows.append([issued, *[f"{mb:.1f}" for mb in server.rss_mb()]])
    workers = len(rows[0]) - 1
    print(table(["tokens issued", *[f"worker {n + 1} RSS MB" for n in range(workers)]], rows))


if __name__ == "__main__":
    main()
