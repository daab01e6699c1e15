"""`token-service dev` as a user runs it: fresh directory, no configuration, the printed curl works."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import in_ci

PORTS = (8000, 8001)
TOKEN_SERVICE = Path(sys.executable).parent / "token-service"
BANNER_END = "Ctrl-C stops both services"
# Start-up generates an RSA key and hashes the demo password (argon2) on a cold interpreter;
# this only bounds a hang, it is not a performance check.
START_LIMIT_SECONDS = 120
STOP_LIMIT_SECONDS = 10


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def someone_listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require_free_ports() -> None:
    busy = [port for port in PORTS if not port_is_free(port)]
    if not busy:
        return
    message = f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are in use; `token-service dev` needs 8000 and 8001"
    if in_ci():
        pytest.fail(f"{message}; under CI=true this test is mandatory")
    pytest.skip(f"{message} (this test is mandatory under CI=true)")


def unconfigured_environment() -> dict[str, str]:
    """The caller's environment without any TOKEN_SERVICE_* or RESOURCE_API_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_SERVICE_", "RESOURCE_API_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class DevProcess:
    def __init__(self, cwd: Path) -> None:
        self.stderr_path = cwd.parent / "dev-stderr.txt"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [str(TOKEN_SERVICE), "dev"],
            cwd=cwd,
            env=unconfigured_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def banner(self) -> list[str]:
        """Stdout up to the banner's last line; fails with the process's stderr if it never comes."""
        seen: list[str] = []
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line.rstrip("\n"))
            if BANNER_END in line:
                return seen
        pytest.fail(f"no banner from `token-service dev`; stdout:\n{''.join(s + chr(10) for s in seen)}\nstderr:\n{self.stderr_path.read_text()}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[tuple[DevProcess, Path]]:
    require_free_ports()
    assert TOKEN_SERVICE.exists(), f"{TOKEN_SERVICE} is missing; run `uv sync`"
    workdir = tmp_path / "fresh-checkout"
    workdir.mkdir()
    process = DevProcess(workdir)
    try:
        yield process, workdir
    finally:
        process.close()


def printed_commands(banner: list[str], heading: str = "Try it:") -> str:
    """The lines under `heading`, exactly as printed, up to the blank line that ends them."""
    start = next(i for i, line in enumerate(banner) if line.strip().startswith(heading)) + 1
    commands: list[str] = []
    for line in banner[start:]:
        if not line.strip():
            break
        commands.append(line)
    return "\n".join(commands)


def mcp_client_adds_a_note(banner: list[str]) -> list[str]:
    import asyncio
    import re

    from tests.support.mcp_client import McpUser, MemoryTokenStorage, connected_client, structured

    (mcp_url,) = [line.split()[2] for line in banner if line.strip().startswith("MCP server")]
    (password,) = [m.group(1) for line in banner if (m := re.search(r"sign in as demo / (\S+)\)", line))]

    async def run() -> list[str]:
        user = McpUser("demo", password, "http://127.0.0.1:33418/callback")
        async with connected_client(mcp_url, user, MemoryTokenStorage(), client_name="dev MCP client") as mcp:
            structured(await mcp.call_tool("add_note", {"text": "from an MCP client"}))
            listed = structured(await mcp.call_tool("list_notes", {}))
        return [note["text"] for note in listed["result"] if note["text"] == "from an MCP client"]

    return asyncio.run(run())


def test_dev_serves_both_and_the_printed_curl_works_then_ctrl_c_stops_cleanly(dev: tuple[DevProcess, Path]) -> None:
    process, workdir = dev
    banner = process.banner()
    assert all(someone_listens(port) for port in PORTS)
    assert (workdir / ".token-service").is_dir(), "the default data directory is ./.token-service/"

    commands = printed_commands(banner)
    assert "curl" in commands
    result = subprocess.run(["bash", "-c", commands], capture_output=True, text=True, timeout=60, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list), result.stdout

    # The key-based client: the printed Python snippet, pasted as printed, lists the notes too.
    snippet = textwrap.dedent(printed_commands(banner, "From Python"))
    assert "TokenClient" in snippet and "client_secret" not in snippet
    result = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("["), result.stdout

    # README "Protecting an MCP server": an MCP client pointed at the printed URL registers
    # itself and signs the demo user in, with nothing else configured.
    assert mcp_client_adds_a_note(banner) == ["from an MCP client"]

    process.process.send_signal(signal.SIGINT)
    try:
        code = process.process.wait(timeout=STOP_LIMIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`token-service dev` still runs {STOP_LIMIT_SECONDS} s after Ctrl-C; stderr:\n{process.stderr_path.read_text()}")
    assert code == 0, process.stderr_path.read_text()
    assert not any(someone_listens(port) for port in PORTS)
