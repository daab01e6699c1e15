"""What the benchmarks share: servers as subprocesses, CPU accounting, wrk, raw RSA cost."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRK-JSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_sign_rate(seconds: float = 2.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per CPU-second of one core, with `cryptography`.

    CPU time, not wall time: the server side is also counted in CPU-seconds, so the ratio
    holds when the load generator (or anything else) competes for the cores.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = b"x" * 300
    count = 0
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        for _ in range(50):
            key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        count += 50
    return count / (time.thread_time() - start)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def cpu_seconds(self) -> float:
        """User+system CPU of the server and all its worker processes."""
        root = psutil.Process(self.process.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss_mb(self) -> list[float]:
        root = psutil.Process(self.process.pid)
        procs = root.children(recursive=True) or [root]
        return [p.memory_info().rss / 1e6 for p in procs]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run([str(BIN / "token-service"), *args], env=self.env, input=stdin, capture_output=True, text=True, check=True)
        return result.stdout


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60, *, path: str = "/readyz", accept_any_status: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            status = httpx.get(f"{url}{path}", timeout=2).status_code
            if status == 200 or accept_any_status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


@contextmanager
def token_service(extra_env: dict[str, str] | None = None, workers: int | None = 1) -> Iterator[Server]:
    """`token-service serve` in a fresh data directory; `workers=None` runs serve's own default."""
    data_dir = tempfile.mkdtemp(prefix="bench-ts-")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOKEN_SERVICE_")},
        "TOKEN_SERVICE_DATA_DIR": data_dir,
        "TOKEN_SERVICE_ISSUER": f"http://127.0.0.1:{port}",
        "TOKEN_SERVICE_PORT": str(port),
        **(extra_env or {}),
    }
    if "TOKEN_SERVICE_DATABASE_URL" in env:
        subprocess.run([str(BIN / "token-service"), "db", "upgrade"], env=env, check=True, capture_output=True)
    worker_flag = [] if workers is None else ["--workers", str(workers)]
    process = subprocess.Popen(
        [str(BIN / "token-service"), "serve", *worker_flag], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield Server(url, process, env)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int
    non2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    wrk_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian) or see https://github.com/wg/wrk")
    return path


def run_wrk(url: str, script: str, *, connections: int, seconds: float, threads: int = 1) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + WRK_REPORT)
        script_path = handle.name
    command = [require_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", script_path, url]
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cpu = 0.0
    while process.poll() is None:
        try:
            times = process.cpu_times()
            cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    out, err = process.communicate()
    os.unlink(script_path)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out}\n{err}")
    data = json.loads(line.removeprefix("WRK-JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        non2xx=data["non2xx"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        wrk_cpu_seconds=cpu,
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(h) for h in headers], *[[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
