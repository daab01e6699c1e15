"""The example resource API as a subprocess, for benchmarks."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.support import BIN, free_port, wait_until_ready


@contextmanager
def resource_api(issuer: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data:
        env = {
            **os.environ,
            "RESOURCE_API_ISSUER": issuer,
            "RESOURCE_API_AUDIENCE": url,
            "RESOURCE_API_PORT": str(port),
            "RESOURCE_API_DATABASE_URL": f"sqlite+aiosqlite:///{data}/notes.db",
            "RESOURCE_API_JWKS_MIN_TTL": "1",
        }
        process = subprocess.Popen([str(BIN / "resource-api"), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_ready(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(10)
