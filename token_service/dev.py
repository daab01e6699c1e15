"""`token-service dev`: the whole system on one machine with no configuration.

Token service on :8000, the example resource API on :8001, SQLite under ./.token-service/,
the in-process store, a demo machine client, a demo browser client and a demo user,
and a printout whose commands work exactly as printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resource_api.app import create_app as create_resource_app
from resource_api.settings import ResourceApiSettings
from token_service.app import create_app
from token_service.clients.cli import generate_client_key
from token_service.clients.metadata import ClientMetadata
from token_service.clients.registry import ClientRegistry, config_clients
from token_service.clients.secrets import generate_client_secret, hash_client_secret
from token_service.observability.logging import configure_logging
from token_service.http.worker_listeners import tcp_socket
from token_service.db.models import ClientRow, ResourceRow
from token_service.resources.model import ResourceConfig
from token_service.resources.registry import ResourceRegistry, config_resources
from token_service.runtime import open_runtime
from token_service.settings import TokenServiceSettings, UpstreamConfig
from token_service.users.directory import UserDirectory

RESOURCE_API_PORT = 8001
RESOURCE_API_URL = f"http://127.0.0.1:{RESOURCE_API_PORT}"
MCP_URL = f"{RESOURCE_API_URL}/mcp"
MACHINE_CLIENT_ID = "demo-machine"
KEY_CLIENT_ID = "demo-worker"
BROWSER_CLIENT_ID = "demo-spa"
DEMO_USERNAME = "demo"
DEMO_SCOPES = "openid profile email offline_access notes:read notes:write"


def dev_settings(settings: TokenServiceSettings) -> TokenServiceSettings:
    """The defaults, plus a password login when no upstream is configured."""
    # Local URLs only here: dev clients may publish their keys on 127.0.0.1.
    # One process serves both apps here, so the in-process store is all it needs.
    update: dict[str, Any] = {"log_format": "console", "allow_private_urls": True, "ephemeral_store": "memory"}
    if "open_registration" not in settings.model_fields_set:
        # MCP clients and other tools register themselves (RFC 7591); on a developer's machine, let them.
        update["open_registration"] = True
    if not settings.upstreams:
        update["upstreams"] = [UpstreamConfig(name="local", kind="password", display_name="Demo password")]
    return settings.model_copy(update=update)


def browser_client_fields(resource_api_url: str) -> dict[str, Any]:
    """The demo page's client: public (PKCE), the page at `/` is both its redirect URIs.

    First party, so the demo user is not asked to consent to the demo's own page.
    """
    return {
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [f"{resource_api_url}/"],
        "post_logout_redirect_uris": [f"{resource_api_url}/"],
        "scope": DEMO_SCOPES,
        "audience": resource_api_url,
        "public": True,
        "first_party": True,
    }


def notes_api_resource(identifier: str, name: str = "Notes API") -> ResourceConfig:
    """The example resource API as a registered resource: its name and scope words appear on consent pages."""
    return ResourceConfig.model_validate(
        {
            "identifier": identifier,
            "name": name,
            "scopes": [{"name": "notes:read", "description": "Read your notes"}, {"name": "notes:write", "description": "Add notes for you"}],
        }
    )


async def upsert_resource(settings: TokenServiceSettings, db_sessions: async_sessionmaker[AsyncSession], config: ResourceConfig) -> None:
    if any(r.identifier == config.identifier for r in settings.resources):
        return  # declared in the TOML file: that declaration wins
    async with db_sessions() as db, db.begin():
        row = await db.get(ResourceRow, config.identifier)
        if row is not None:
            await db.delete(row)
    await ResourceRegistry(db_sessions, config_resources(settings.resources)).add(config)


async def upsert_client(registry: ClientRegistry, db_sessions: async_sessionmaker[AsyncSession], client_id: str, **fields: Any) -> None:
    async with db_sessions() as db, db.begin():
        row = await db.get(ClientRow, client_id)
        if row is not None:
            await db.delete(row)
    await registry.add(ClientMetadata(client_id=client_id, **fields))


def demo_client_key(data_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The key-based demo client's private JWK, generated once (0600); returns its path and public JWK Set."""
    path = data_dir / "demo-worker-key.json"
    if path.exists():
        private = json.loads(path.read_text())
    else:
        private = generate_client_key("ES256").as_dict(private=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(private, handle)
    public = {name: value for name, value in private.items() if name != "d"}
    return path, {"keys": [public]}


def demo_password(data_dir: Path) -> str:
    """The demo user's password, generated once and kept (0600) beside the database."""
    path = data_dir / "demo-user-password"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


async def prepare_demo(settings: TokenServiceSettings) -> dict[str, str]:
    runtime = await open_runtime(settings, migrate_now=True)
    try:
        clients = ClientRegistry(runtime.db_sessions, config_clients(settings.clients), allow_private_urls=settings.allow_private_urls, clock=runtime.clock)
        await upsert_resource(settings, runtime.db_sessions, notes_api_resource(RESOURCE_API_URL))
        # Its MCP endpoint is a resource of its own: MCP clients ask for tokens for exactly its URL.
        await upsert_resource(settings, runtime.db_sessions, notes_api_resource(MCP_URL, "Notes API (MCP)"))
        machine_secret = generate_client_secret()
        # The machine client's secret is new at every start: only its hash is stored,
        # so a fresh one is the only way to print a working secret.
        await upsert_client(
            clients,
            runtime.db_sessions,
            MACHINE_CLIENT_ID,
            client_secret_hash=hash_client_secret(machine_secret),
            grant_types=["client_credentials"],
            scope="notes:read notes:write",
            audience=RESOURCE_API_URL,
        )
        key_path, public_jwks = demo_client_key(settings.data_dir)
        # The same kind of machine client, proving itself with a key instead of a secret.
        await upsert_client(
            clients,
            runtime.db_sessions,
            KEY_CLIENT_ID,
            token_endpoint_auth_method="private_key_jwt",
            jwks=public_jwks,
            grant_types=["client_credentials"],
            scope="notes:read notes:write",
            audience=RESOURCE_API_URL,
        )
        await upsert_client(clients, runtime.db_sessions, BROWSER_CLIENT_ID, **browser_client_fields(RESOURCE_API_URL))
        directory = UserDirectory.from_settings(runtime.db_sessions, settings)
        password = demo_password(settings.data_dir)
        existing = [u for u in await directory.list_users() if u.username == DEMO_USERNAME]
        if existing:
            await directory.set_password(existing[0].id, password)
        else:
            await directory.add_local_user(DEMO_USERNAME, password, email="demo@example.com", name="Demo User")
        return {"machine_secret": machine_secret, "password": password, "key_path": str(key_path.resolve())}
    finally:
        await runtime.close()


class _Server(uvicorn.Server):
    """Two servers share one event loop; `run_dev` owns the signal handling."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def banner(settings: TokenServiceSettings, demo: dict[str, str]) -> str:
    issuer = settings.issuer
    return f"""
  Token service   {issuer}
    discovery     {issuer}/.well-known/openid-configuration
  Resource API    {RESOURCE_API_URL}
  Demo page       {RESOURCE_API_URL}/   (sign in as {DEMO_USERNAME} / {demo['password']})
  MCP server      {MCP_URL}   (streamable HTTP; MCP clients register themselves and sign you in)

  Machine client  client_id={MACHINE_CLIENT_ID}  client_secret={demo['machine_secret']}
  Browser client  client_id={BROWSER_CLIENT_ID}  (public, PKCE)

  Try it:
    TOKEN=$(curl -s -u {MACHINE_CLIENT_ID}:{demo['machine_secret']} -d grant_type=client_credentials {issuer}/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer $TOKEN" {RESOURCE_API_URL}/notes

  Key client      client_id={KEY_CLIENT_ID}  (private_key_jwt, no secret; key in {demo['key_path']})
  From Python (`uv run python`, paste):
    import asyncio, httpx
    from shared import TokenClient
    async def main():
        tokens = TokenClient("{issuer}", "{KEY_CLIENT_ID}", private_key="{demo['key_path']}", scope="notes:read", resource="{RESOURCE_API_URL}")
        async with httpx.AsyncClient(auth=tokens) as http:
            print((await http.get("{RESOURCE_API_URL}/notes")).json())
    asyncio.run(main())

  Data in {settings.data_dir.resolve()}/  ·  Ctrl-C stops both services
"""


def listening_socket(port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is one clear message and nothing half-running."""
    sock = tcp_socket(socket.AF_INET)
    # As uvicorn does: a restart right after Ctrl-C must not wait out TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


async def _start(server: _Server, sock: socket.socket) -> asyncio.Task[None]:
    """Serve in a task; return once it listens (or has already given up)."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    return task


async def serve_both(settings: TokenServiceSettings, sockets: list[socket.socket], on_ready: Callable[[], None]) -> None:
    # proxy_headers=False: uvicorn would otherwise let any loopback client choose its address by X-Forwarded-For.
    token_server = _Server(uvicorn.Config(create_app(settings), log_level="warning", log_config=None, proxy_headers=False))
    resource_settings = ResourceApiSettings(
        issuer=settings.issuer,
        audience=RESOURCE_API_URL,
        database_url=f"sqlite+aiosqlite:///{(settings.data_dir / 'resource-api-notes.db').as_posix()}",
    )
    resource_server = _Server(uvicorn.Config(create_resource_app(resource_settings), log_level="warning", log_config=None))
    servers = (token_server, resource_server)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    # One after the other: the resource API fetches the token service's keys as it starts, and
    # the banner's commands must work the moment it is printed, so it waits for both.
    tasks = [await _start(server, sock) for server, sock in zip(servers, sockets, strict=True)]
    if all(server.started for server in servers) and not token_server.should_exit:
        on_ready()
    await asyncio.gather(*tasks)
    if not all(server.started for server in servers):
        raise SystemExit(1)


def run_dev(settings: TokenServiceSettings) -> int:
    settings = dev_settings(settings)
    configure_logging(settings.log_format)
    sockets: list[socket.socket] = []
    for port in (settings.port, RESOURCE_API_PORT):
        try:
            sockets.append(listening_socket(port))
        except OSError as exc:
            for sock in sockets:
                sock.close()
            print(f"token-service: cannot listen on 127.0.0.1:{port} ({exc.strerror}); stop what uses it and run again", file=sys.stderr)
            return 1
    demo = asyncio.run(prepare_demo(settings))
    try:
        asyncio.run(serve_both(settings, sockets, lambda: print(banner(settings, demo), flush=True)))
    except SystemExit as exc:
        print("token-service: a server stopped during start-up; see the messages above", file=sys.stderr)
        return int(exc.code or 1)
    finally:
        for sock in sockets:
            sock.close()
    print("stopped", flush=True)
    return 0
