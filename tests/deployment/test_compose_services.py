"""The services of docker-compose.yml, started with exactly the environment Compose gives them.

No Docker engine runs here, so each service runs as a subprocess of the installed console
script. Its environment is the compose file's (env_file + environment, interpolated from
a .env this test writes with freshly generated secrets) plus the image's ENV, changed only
where a container and this machine must differ: service host names become the real local
PostgreSQL and Redis, volume paths become temporary directories, ports become free ports,
the database is a fresh one and Redis keys get a per-test prefix. A variable the compose
file misspells, a missing secret, or an issuer the replicas disagree on fails here.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.deployment.compose import DOCKERFILE, ROOT, load_compose, service_environment
from tests.support.backends import PG_HOST, PG_PORT, PG_USER, REDIS_URL, PostgresDatabases, delete_redis_prefix, redis_prefix, require_service
from tests.support.live_server import free_port
from tests.support.tcp_proxy import TcpProxy

# Each replica starts its workers as `serve` does in the container (one per CPU with
# Redis); each worker imports the whole service first. On a machine shared with other
# test runs that took well over a minute, so the wait and the module's timeout allow it.
START_LIMIT_SECONDS = 150
pytestmark = pytest.mark.timeout(600)

VENV_BIN = ROOT / ".venv" / "bin"


class RoundRobinProxy(TcpProxy):
    """Stands in for nginx: each new connection goes to the next replica."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self._targets: Iterator[tuple[str, int]] = iter(())

    def balance(self, ports: list[int]) -> None:
        self._targets = itertools.cycle([("127.0.0.1", port) for port in ports])

    async def _handle(self, client_reader: Any, client_writer: Any) -> None:
        self.target = next(self._targets)
        await super()._handle(client_reader, client_writer)


def image_environment() -> dict[str, str]:
    """ENV of the Dockerfile's final stage, as every container starts with it."""
    final_stage = re.split(r"(?im)^FROM\s", DOCKERFILE.read_text())[-1].replace("\\\n", " ")
    values: dict[str, str] = {}
    for line in re.findall(r"(?m)^ENV\s+(.+)$", final_stage):
        for pair in shlex.split(line):
            name, _, value = pair.partition("=")
            values[name] = value
    return values


@dataclass
class Localizer:
    """Maps container-side addresses and paths to this machine's."""

    hosts: dict[str, str]
    paths: dict[str, str] = field(default_factory=dict)

    def __call__(self, value: str) -> str:
        for container_host, local in self.hosts.items():
            value = re.sub(rf"(?<=[@/]){re.escape(container_host)}(?=[:/]|$)", local, value)
        for container_path, local in self.paths.items():
            value = value.replace(container_path, local)
        return value


def mounts(service: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    paths: dict[str, str] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            paths[target] = str((ROOT / source).resolve())
        else:  # a named volume: a fresh, empty directory, as on first `docker compose up`
            local = tmp_path / "volumes" / source
            local.mkdir(parents=True, exist_ok=True)
            paths[target] = str(local)
    return paths


def local_command(command: list[str], port: int) -> list[str]:
    args = [str(VENV_BIN / command[0]), *command[1:]]
    if "--port" in args:
        del args[args.index("--port") : args.index("--port") + 2]
    # Containers listen on 0.0.0.0 behind Docker's network; here loopback is enough.
    return [("127.0.0.1" if arg == "0.0.0.0" else arg) for arg in args] + ["--port", str(port)]


@dataclass
class Process:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_for(self, path: str, status: int = 200, timeout: float = START_LIMIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(self.url + path, timeout=2)
                if response.status_code == status:
                    return
                last = f"HTTP {response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        pytest.fail(f"{self.name} {path}: {last}\n{self.log_tail()}")


@dataclass
class Deployment:
    issuer: str
    api_url: str
    replicas: list[Process]
    api: Process
    environments: dict[str, dict[str, str]]
    kek: str


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres_databases: PostgresDatabases) -> Iterator[Deployment]:
    # Module scope: starting four processes and migrating a database takes seconds.
    tmp_path = tmp_path_factory.mktemp("compose")
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    redis = urlsplit(REDIS_URL)
    require_service("Redis", redis.hostname or "127.0.0.1", redis.port or 6379)
    compose = load_compose()["services"]
    database = postgres_databases.create().rsplit("/", 1)[1]
    prefix = redis_prefix()
    proxy = RoundRobinProxy()
    api_port = free_port()
    kek = subprocess.run([str(VENV_BIN / "token-service"), "keys", "new-kek"], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(
            [
                f"PUBLIC_ISSUER=http://127.0.0.1:{proxy.port}",
                f"PUBLIC_API_URL=http://127.0.0.1:{api_port}",
                f"POSTGRES_USER={PG_USER}",
                f"POSTGRES_DB={database}",
                f"POSTGRES_PASSWORD={secrets.token_hex(32)}",
                f"TOKEN_SERVICE_KEY_ENCRYPTION_KEY={kek}",
            ]
        )
        + "\n"
    )
    hosts = {"postgres:5432": f"{PG_HOST}:{PG_PORT}", "redis:6379": redis.netloc}
    base = image_environment()
    base["PATH"] = f"{VENV_BIN}:{os.environ['PATH']}"
    processes: list[Process] = []
    environments: dict[str, dict[str, str]] = {}

    def start(name: str, port: int) -> Process:
        service = compose[name]
        service_paths = mounts(service, tmp_path)
        service_paths["/var/lib/token-service"] = str(tmp_path / name / "data")
        localize = Localizer(hosts, service_paths)
        env = {key: localize(value) for key, value in {**base, **service_environment(service, env_file)}.items()}
        if name.startswith("token-service"):
            env["TOKEN_SERVICE_REDIS_PREFIX"] = prefix
        environments[name] = env
        if "TOKEN_SERVICE_METRICS_PORT" in env:
            # Each container has its own 9100; here the replicas share one host.
            env = {**env, "TOKEN_SERVICE_METRICS_PORT": str(free_port())}
        log = tmp_path / f"{name}.log"
        (tmp_path / name).mkdir(exist_ok=True)
        popen = subprocess.Popen(local_command(service["command"], port), env=env, cwd=tmp_path / name, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        process = Process(name, f"http://127.0.0.1:{port}", popen, log)
        processes.append(process)
        return process

    try:
        # The order of the compose file's depends_on: the migrating replica first.
        first = start("token-service-1", free_port())
        first.wait_for("/healthz")
        second = start("token-service-2", free_port())
        second.wait_for("/healthz")
        proxy.balance([first.port, second.port])
        proxy.start()
        api = start("resource-api", api_port)
        api.wait_for("/readyz")
        yield Deployment(f"http://127.0.0.1:{proxy.port}", f"http://127.0.0.1:{api_port}", [first, second], api, environments, kek)
    finally:
        for process in processes:
            process.popen.terminate()
        for process in processes:
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.popen.kill()
        proxy.stop()
        delete_redis_prefix(prefix)


def test_replicas_serve_one_key_set_and_the_api_accepts_a_token_from_either(deployment: Deployment) -> None:
    metadata = httpx.get(f"{deployment.issuer}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == deployment.issuer
    key_sets = [httpx.get(f"{replica.url}/jwks.json").json() for replica in deployment.replicas]
    assert key_sets[0]["keys"], "the JWKS is empty"
    assert key_sets[0] == key_sets[1], "the replicas publish different keys: tokens from one would fail on APIs that cached the other"

    registered = subprocess.run(
        [str(VENV_BIN / "token-service"), "clients", "add", "--grant", "client_credentials", "--scope", "notes:read", "--audience", deployment.api_url],
        env=deployment.environments["token-service-1"],
        cwd=deployment.replicas[0].log.parent,
        capture_output=True,
        text=True,
    )
    assert registered.returncode == 0, registered.stderr
    client = json.loads(registered.stdout)

    for replica in deployment.replicas:
        response = httpx.post(
            f"{replica.url}/token",
            data={"grant_type": "client_credentials", "scope": "notes:read"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert response.status_code == 200, f"{replica.name}: {response.text}"
        # `serve` names no server software (RFC 9110 §10.2.4 permits omitting it).
        assert "server" not in response.headers
        token = response.json()["access_token"]
        me = httpx.get(f"{deployment.api_url}/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, f"token from {replica.name} rejected: {me.headers.get('www-authenticate')}"
        assert me.json()["client_id"] == client["client_id"]
        notes = httpx.get(f"{deployment.api_url}/notes", headers={"Authorization": f"Bearer {token}"})
        assert notes.status_code == 200, notes.text


def test_replicas_run_with_only_settings_from_the_compose_file(deployment: Deployment) -> None:
    replica_env = deployment.environments["token-service-1"]
    # Identical but for the data directory, a per-container volume.
    same = {key: value for key, value in replica_env.items() if key != "TOKEN_SERVICE_DATA_DIR"}
    assert same == {key: value for key, value in deployment.environments["token-service-2"].items() if key != "TOKEN_SERVICE_DATA_DIR"}
    assert replica_env["TOKEN_SERVICE_ISSUER"] == deployment.issuer
    assert replica_env["TOKEN_SERVICE_KEY_ENCRYPTION_KEY"] == deployment.kek
    assert deployment.environments["resource-api"]["RESOURCE_API_ISSUER"] == deployment.issuer
    # Least privilege: the resource API never sees the token service's secrets.
    api_env = deployment.environments["resource-api"]
    assert deployment.kek not in api_env.values()
    assert not [key for key in api_env if "PASSWORD" in key or "KEY_ENCRYPTION" in key]
