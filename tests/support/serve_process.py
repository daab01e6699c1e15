"""`token-service serve` as an operator runs it: a separate process on the embedded SQLite
default, configured through the environment and a TOML file, with one password user
and one public browser client. For behaviour that lives in `serve` itself (uvicorn's
options, the protocol, the listening sockets) rather than in the app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.browser import add_user
from tests.support.live_server import free_port
from tests.support.password_login import PASSWORD, REDIRECT_URI
from tests.support.token_service import upgrade_database
from token_service.settings import TokenServiceSettings, load_settings

TOKEN_SERVICE = Path(sys.executable).parent / "token-service"
CLIENT_ID = "serve-test-app"
USERNAME = "demo"
# Start-up imports everything; on a machine shared with other test runs that took 25 s.
START_LIMIT_SECONDS = 120

CONFIG = f"""
[[upstreams]]
name = "local"
kind = "password"

[[clients]]
client_id = "{CLIENT_ID}"
grant_types = ["authorization_code"]
redirect_uris = ["{REDIRECT_URI}"]
scope = "openid"
audience = "http://127.0.0.1:8001"
public = true
first_party = true
"""


@dataclass
class ServeProcess:
    url: str
    port: int
    settings: TokenServiceSettings
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_serve(tmp_path: Path, env: dict[str, str] | None = None, *, workers: int = 1) -> Iterator[ServeProcess]:
    """`token-service serve` with TOKEN_SERVICE_* from `env` on top of a working base."""
    port = free_port()
    (tmp_path / "config.toml").write_text(CONFIG)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_SERVICE_", "FORWARDED_ALLOW_IPS"))}
    environment.update(
        {
            "TOKEN_SERVICE_DATA_DIR": str(tmp_path / "data"),
            "TOKEN_SERVICE_ISSUER": f"http://127.0.0.1:{port}",
            "TOKEN_SERVICE_PORT": str(port),
            "TOKEN_SERVICE_CONFIG": str(tmp_path / "config.toml"),
            "TOKEN_SERVICE_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
    )
    settings = load_settings({k: v for k, v in environment.items() if k.startswith("TOKEN_SERVICE_")})
    upgrade_database(settings)
    add_user(settings, USERNAME, PASSWORD)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([str(TOKEN_SERVICE), "serve", "--workers", str(workers)], env=environment, stdout=sink, stderr=subprocess.STDOUT)
    running = ServeProcess(f"http://127.0.0.1:{port}", port, settings, process, log)
    try:
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}:\n{running.output()}")
            try:
                if httpx.get(f"{running.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not answer within {START_LIMIT_SECONDS} s:\n{running.output()}")
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
