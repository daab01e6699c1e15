"""The notes API over MCP (streamable HTTP) at `/mcp`, protected like the HTTP routes.

`/mcp` is a protected resource of its own (RFC 9728 §3.1): its identifier is
`<public URL>/mcp` (RESOURCE_API_MCP_RESOURCE), described at
`/.well-known/oauth-protected-resource/mcp`. MCP clients ask the token service for
tokens with `resource=<that identifier>` (RFC 8707, as the MCP authorization spec
requires), so its tokens carry that `aud`. Tokens for the API itself
(RESOURCE_API_AUDIENCE) are accepted too: the tools are the same notes behind the same
scopes, and a client already holding a notes token need not get a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

from litestar.handlers import BaseRouteHandler, asgi
from litestar.types import Receive, Scope, Send
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from sqlalchemy.ext.asyncio import AsyncSession

from resource_api.mcp.guard import McpGuard, RejectionLog
from resource_api.mcp.tools import TOOL_SCOPES, build_mcp_server
from resource_api.settings import ResourceApiSettings
from shared import AccessTokenVerifier, JwksCache
from shared.dpop.resource import DPoPOptions, RequestAuthenticator
from shared.litestar import EXCLUDE_FROM_AUTH, resource_metadata_route
from shared.resource_metadata import ProtectedResource
from shared.rules import StatusListResolver

__all__ = ["MCP_PATH", "McpEndpoint", "mcp_endpoint"]

MCP_PATH = "/mcp"


@dataclass(frozen=True)
class McpEndpoint:
    route_handlers: list[BaseRouteHandler]
    """`/mcp` and its protected resource metadata."""
    running: Callable[[], AbstractAsyncContextManager[None]]
    """Enter for the app's lifetime: the MCP session manager's task group."""
    metadata: ProtectedResource


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def mcp_endpoint(
    settings: ResourceApiSettings,
    *,
    jwks: JwksCache,
    sessions: Callable[[], AsyncSession],
    dpop: DPoPOptions,
    on_rejection: RejectionLog | None = None,
    status_lists: StatusListResolver | None = None,
) -> McpEndpoint:
    identifier = settings.mcp_resource_identifier
    verifier = AccessTokenVerifier(
        jwks, issuer=settings.issuer, audience=(identifier, settings.audience), leeway=settings.leeway, status_lists=status_lists
    )
    authenticator = RequestAuthenticator(verifier, dpop)
    metadata = ProtectedResource(
        resource=identifier, scopes_supported=("notes:read", "notes:write"), resource_name="Notes API (MCP)"
    ).resolve(authenticator)

    server = build_mcp_server(sessions)
    # Stateless, with JSON answers: any instance behind a load balancer serves any request,
    # and no per-session state outlives a call. The SDK's Host/Origin check is off because
    # the guard checks Origin itself against this API's own URLs (the SDK's would only allow
    # loopback host names); a bearer token is needed anyway.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    guard = McpGuard(
        manager.handle_request,
        authenticator,
        resource_metadata=metadata.url,
        tool_scopes=TOOL_SCOPES,
        allowed_origins=frozenset({_origin(settings.dpop_public_url), _origin(identifier), _origin(settings.audience)}),
        max_body_bytes=DEFAULT_MAX_REQUEST_BODY_SIZE,
        on_rejection=on_rejection,
    )

    # The guard authenticates /mcp itself (its audiences and metadata differ from the rest of the API).
    @asgi(MCP_PATH, copy_scope=True, opt={EXCLUDE_FROM_AUTH: True})
    async def mcp_transport(scope: Scope, receive: Receive, send: Send) -> None:
        await guard(dict(scope), receive, send)  # type: ignore[arg-type]

    def running() -> AbstractAsyncContextManager[None]:
        return manager.run()

    handlers: list[BaseRouteHandler] = [mcp_transport, resource_metadata_route(metadata)]
    return McpEndpoint(route_handlers=handlers, running=running, metadata=metadata)
