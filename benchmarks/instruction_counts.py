"""Instructions per token request beside the signature: a figure the machine's load cannot move.

    uv run python -m benchmarks.instruction_counts [--requests 100]

Wall-clock CPU per request on a shared 2-core VM moves by ±20 % between runs (the raw RSA
rate alone went from 2 683 to 3 470 signs/s within an hour on one machine), which hides
any single change worth under ~30 µs. Instructions, counted by valgrind's callgrind, are
the same on every run of the same code (seen: within 0.2 %), so this script is how a
change to the request path is judged before wrk confirms it.

Each subject runs in process (the ASGI app driven directly, no HTTP server), with the RSA
signature replaced by a constant so that only the code around it is counted, under
`valgrind --tool=callgrind` with collection switched on (callgrind_control) for
`--requests` requests after a warm-up:

- the minimal Litestar route that only answers (`benchmarks.floor_apps`, signature aside):
  the framework's floor;
- the token service, client_credentials on SQLite with its defaults (status list indices,
  access log in JSON, metrics, security headers);
- the same requests sent to `/token/`, which Litestar's router and route pipeline serve
  with the same handler: what the direct route (http/direct.py) saves.

The second row minus the first is what our endpoint itself costs. Background work that
runs on a timer (the status entries' writer, every 0.1 s) is counted as it falls in the
window: under valgrind a request takes ~50× longer, so that share is overstated, never
hidden. Needs valgrind (`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.support import ROOT, table

SUBJECTS = {
    "floor": "minimal Litestar route (signature aside)",
    "token_service": "token service, client_credentials (signature aside)",
    "through_litestar": "the same, through Litestar's route pipeline (POST /token/)",
}
WARM_UP = 60


def count_in_child(subject: str, requests: int) -> int:
    """Instructions the child process ran while collection was on, for `requests` requests."""
    with tempfile.TemporaryDirectory(prefix="bench-ir-") as scratch:
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={scratch}/callgrind.out",
            sys.executable, "-m", "benchmarks.instruction_counts", "--child", subject, "--requests", str(requests),
        ]
        # A fixed hash seed: dict and set layouts, and so the instruction counts, repeat.
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{subject}: the child failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"{subject}: valgrind reported no count:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def collecting(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True)


async def measure(request: Callable[[], Awaitable[int]], requests: int) -> None:
    for _ in range(WARM_UP):
        await request()
    await asyncio.sleep(0.2)  # the warm-up's background writes land before counting starts
    collecting(True)
    statuses = [await request() for _ in range(requests)]
    collecting(False)
    if set(statuses) != {200}:
        raise RuntimeError(f"answers other than 200: {sorted(set(statuses))}")


def constant_signature() -> None:
    """The RS256 signature becomes a constant of its size: only the code around it is counted."""
    from benchmarks import floor_apps
    from token_service.tokens import signer

    class Unsigned:
        def sign(self, signing_input: bytes, key: Any) -> bytes:
            return b"s" * 256

    signer._ALGORITHM = Unsigned()  # type: ignore[assignment]
    floor_apps._ALG = Unsigned()  # type: ignore[assignment]


async def child(subject: str, requests: int) -> None:
    from benchmarks.fast_paths import SECRET, litestar_route, post, running, settings_for
    from token_service.app import create_app

    constant_signature()
    if subject == "floor":
        from benchmarks.floor_apps import litestar_route

        await measure(lambda: post(litestar_route, b"grant_type=client_credentials", []), requests)
        return
    basic = b"Basic " + base64.b64encode(f"bench-machine:{SECRET}".encode())
    app = create_app(settings_for(tempfile.mkdtemp(prefix="bench-ir-")))
    path = litestar_route() if subject == "through_litestar" else contextlib.nullcontext()
    async with running(app):
        with path:
            await measure(lambda: post(app, b"grant_type=client_credentials", [(b"authorization", basic)]), requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--child", choices=sorted(SUBJECTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from token_service.observability.logging import configure_logging

        with open(os.devnull, "w") as sink:
            configure_logging("json", stream=sink)
            asyncio.run(child(args.child, args.requests))
        return
    with ThreadPoolExecutor() as pool:  # one valgrind per core; the counts do not depend on it
        totals = dict(zip(SUBJECTS, pool.map(lambda subject: count_in_child(subject, args.requests), SUBJECTS)))
    counts = {subject: total / args.requests for subject, total in totals.items()}
    floor = counts["floor"]
    rows = [[SUBJECTS[subject], f"{per_request:,.0f}", f"{per_request - floor:,.0f}"] for subject, per_request in counts.items()]
    print(f"\n## instructions per request, in process, signature aside ({args.requests} requests each, callgrind)\n")
    print(table(["subject", "instructions per request", "beyond the framework's floor"], rows))


if __name__ == "__main__":
    main()
