"""What stands in front of the MCP endpoint: origin, access token, and each tool's scopes.

MCP authorization (revision 2025-11-25 and 2026-07-28) puts all of it at the HTTP level,
so any MCP client's OAuth support can act on it:

- no token or a bad one: 401 with `WWW-Authenticate: Bearer ..., scope="<every tool's
  scopes>", resource_metadata="<the /mcp metadata URL>"`, from which the client discovers
  the token service (RFC 9728) and what to ask it for;
- a valid token calling a tool without its scopes: 403 `insufficient_scope` naming the
  scopes of that call, so the client can step up (ask the user for more) and retry;
- an `Origin` other than the API's own: 403 (the transport's DNS rebinding rule);
- a method the endpoint does not serve (GET, for a stateless endpoint that has no
  stream to offer): 405, as the streamable HTTP transport says, not a stream that stays
  silent until the connection times out.

A request that passes carries the verified claims as `scope["user"]` for the tools.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import InsufficientScope, KeySetUnavailable, TokenRejected
from shared.dpop.resource import RequestAuthenticator
from shared.rejection import Rejection, rejection_for

__all__ = ["McpGuard", "scopes_needed"]

RejectionLog = Callable[[TokenRejected | KeySetUnavailable, str, str], None]


def scopes_needed(body: bytes, tool_scopes: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every scope the JSON-RPC message (or batch) in `body` needs: those of each tool it calls.

    A body that is not JSON-RPC needs none here; the MCP server answers it with its own error.
    """
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError, not ValueError
        return ()
    needed: dict[str, None] = {}
    for item in message if isinstance(message, list) else [message]:
        if not isinstance(item, dict) or item.get("method") != "tools/call":
            continue
        params = item.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        for scope in tool_scopes.get(name, ()) if isinstance(name, str) else ():
            needed[scope] = None
    return tuple(needed)


async def _send_json(send: Send, status: int, body: Mapping[str, str], headers: Mapping[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class McpGuard:
    """ASGI middleware for one MCP endpoint."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: RequestAuthenticator,
        *,
        resource_metadata: str,
        tool_scopes: Mapping[str, tuple[str, ...]],
        allowed_origins: frozenset[str],
        max_body_bytes: int,
        allowed_methods: frozenset[str] = frozenset({"POST"}),
        on_rejection: RejectionLog | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.resource_metadata = resource_metadata
        self.tool_scopes = dict(tool_scopes)
        # MCP scope selection: a 401 names the scopes to ask for, every tool's (the same set
        # as the metadata's scopes_supported; `offline_access` never belongs here).
        self.scopes_to_ask = " ".join(dict.fromkeys(s for scopes in tool_scopes.values() for s in scopes))
        self.allowed_origins = allowed_origins
        self.max_body_bytes = max_body_bytes
        self.allowed_methods = allowed_methods
        self.on_rejection = on_rejection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        method: str = scope["method"]
        origin = next((v for k, v in headers if k == "origin"), None)
        if origin is not None and origin not in self.allowed_origins:
            description = f"requests from origin {origin[:100]!r} are not accepted by this MCP endpoint"
            await _send_json(send, 403, {"error": "invalid_request", "error_description": description}, {"Cache-Control": "no-store"})
            return
        try:
            claims = await self.authenticator.authenticate(
                authorization=[v for k, v in headers if k == "authorization"],
                dpop=[v for k, v in headers if k == "dpop"],
                method=method,
                path=scope["path"],
                token_in_query="access_token" in parse_qs(scope.get("query_string", b"").decode("latin-1")),
            )
        except (TokenRejected, KeySetUnavailable) as exc:
            await self._refuse(send, exc, method, scope["path"])
            return
        if method not in self.allowed_methods:
            allow = ", ".join(sorted(self.allowed_methods))
            message = f"this MCP endpoint answers {allow} only (it keeps no sessions, so it has no stream to open and nothing to delete)"
            await _send_json(send, 405, {"error": "method_not_allowed", "error_description": message}, {"Allow": allow})
            return
        if method == "POST":
            body = await self._read_body(receive)
            if body is None:
                await _send_json(send, 413, {"error": "request_too_large", "error_description": f"the request body is over {self.max_body_bytes} bytes"}, {})
                return
            needed = scopes_needed(body, self.tool_scopes)
            if not claims.has_scopes(*needed):
                refusal = InsufficientScope(needed, granted_scopes=claims.scopes)
                refusal.scheme = self.authenticator.scheme_of(claims)
                await self._refuse(send, refusal, method, scope["path"])
                return
            receive = _replay(body, receive)
        await self.app({**scope, "user": claims}, receive, send)

    async def _refuse(self, send: Send, exc: TokenRejected | KeySetUnavailable, method: str, path: str) -> None:
        if self.on_rejection is not None:
            self.on_rejection(exc, method, path)
        rejection: Rejection = rejection_for(exc, self.authenticator, resource_metadata=self.resource_metadata, scope=self.scopes_to_ask)
        await _send_json(send, rejection.status_code, rejection.body, rejection.headers)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None when it is over the limit (read only after the token passed)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    pending: deque[Message] = deque([{"type": "http.request", "body": body, "more_body": False}])

    async def replayed() -> Message:
        if pending:
            return pending.popleft()
        return await receive()

    return replayed
