"""Planned key rotations under steady load: zero failed requests, no verifier ever misses a key.

    uv run python -m benchmarks.rotation_under_load [--workers 4]

Starts a token service (short key timings: JWKS max-age 1 s, pre-publication 11 s,
30 s tokens) and the resource API, runs clients that get tokens and call the API
without pause, performs two planned rotations (`keys rotate`) and waits until the
first replaced key has been retired and removed from the JWKS. Prints the requests
made, the failures (must be 0), the kids seen, and whether each token's kid was in a
JWKS fetched before the token was issued.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

ROTATION_SETTINGS = {
    "jwks_max_age": 1,
    "key_publish_margin": 10,
    "key_prepublish_seconds": 11,
    "access_token_ttl": 30,
    "id_token_ttl": 30,
    "leeway": 0,
}


def kid_of(token: str) -> str:
    segment = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"])


@dataclass
class Report:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    tokens: list[tuple[float, str]] = field(default_factory=list)  # (issued at, kid)
    jwks_history: list[tuple[float, frozenset[str]]] = field(default_factory=list)  # (fetched at, kids)
    phases: list[tuple[float, str]] = field(default_factory=list)

    def kids_seen(self) -> list[str]:
        return list(dict.fromkeys(kid for _, kid in self.tokens))

    def unannounced(self) -> list[tuple[float, str]]:
        """Tokens whose kid was in no JWKS fetched before the token was issued."""
        return [(t, kid) for t, kid in self.tokens if not any(f < t and kid in kids for f, kids in self.jwks_history)]


def run_scenario(
    issuer: str,
    api: str,
    client: tuple[str, str],
    rotate: Callable[[], None],
    *,
    workers: int = 4,
    timeout: float = 150,
) -> Report:
    report = Report()
    lock = threading.Lock()
    stop = threading.Event()

    def watch_jwks() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                started = time.time()
                kids = frozenset(k["kid"] for k in http.get(f"{issuer}/jwks.json").json()["keys"])
                with lock:
                    report.jwks_history.append((started, kids))
                time.sleep(0.2)

    def load() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                before = time.time()
                try:
                    response = http.post(f"{issuer}/token", data={"grant_type": "client_credentials"}, auth=client)
                    if response.status_code != 200:
                        raise RuntimeError(f"token endpoint answered {response.status_code}: {response.text[:200]}")
                    token = response.json()["access_token"]
                    notes = http.get(f"{api}/notes", headers={"Authorization": f"Bearer {token}"})
                    if notes.status_code != 200:
                        raise RuntimeError(f"resource API answered {notes.status_code}: {notes.headers.get('www-authenticate')}")
                    with lock:
                        report.requests += 2
                        report.tokens.append((before, kid_of(token)))
                except Exception as exc:  # every failure is counted, never hidden
                    with lock:
                        report.requests += 2
                        report.failures.append(str(exc))

    # A first JWKS fetch before any token is requested, as a verifier starting up would do.
    fetched_at = time.time()
    report.jwks_history.append((fetched_at, frozenset(k["kid"] for k in httpx.get(f"{issuer}/jwks.json").json()["keys"])))
    threads = [threading.Thread(target=watch_jwks, daemon=True)] + [threading.Thread(target=load, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()

    def current_signer() -> str:
        with lock:
            return report.tokens[-1][1] if report.tokens else ""

    def published() -> frozenset[str]:
        with lock:
            return report.jwks_history[-1][1] if report.jwks_history else frozenset()

    def wait_for(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.2)
        report.phases.append((time.time(), what))

    try:
        wait_for(lambda: bool(current_signer()), "first tokens")
        first = current_signer()
        for number in (1, 2):
            previous = current_signer()
            rotate()
            report.phases.append((time.time(), f"rotation {number} requested"))
            wait_for(lambda: current_signer() not in ("", previous), f"rotation {number}: new key signing")
        wait_for(lambda: first not in published(), "first key retired and removed from the JWKS")
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    return report


def print_report(report: Report, started: float) -> None:
    print(f"requests made (token + API call each): {report.requests}")
    print(f"failed requests: {len(report.failures)}")
    for failure in report.failures[:5]:
        print(f"  {failure}")
    print(f"kids that signed, in order: {', '.join(report.kids_seen())}")
    print(f"tokens whose kid was not in a JWKS fetched before issuance: {len(report.unannounced())}")
    for moment, what in report.phases:
        print(f"  +{moment - started:6.1f} s  {what}")


def main() -> None:
    import subprocess

    from benchmarks.resource_api_process import resource_api
    from benchmarks.support import BIN, token_service

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    env = {f"TOKEN_SERVICE_{k.upper()}": str(v) for k, v in ROTATION_SETTINGS.items()}
    with token_service(env) as server:
        with resource_api(server.url) as api:
            client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", api))
            started = time.time()

            def rotate() -> None:
                subprocess.run([str(BIN / "token-service"), "keys", "rotate"], env=server.env, check=True, capture_output=True)

            report = run_scenario(server.url, api, (client["client_id"], client["client_secret"]), rotate, workers=args.workers)
    print_report(report, started)


if __name__ == "__main__":
    main()
