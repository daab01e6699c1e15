"""What every redirect-based login connector offers (its failures: `errors`).

The caller (the login endpoints) stores the dict returned by `begin` server-side, bound to
the browser that started the login, and passes it back to `complete` with the query
parameters of the redirect back. Connectors hold no per-login state themselves.
"""

from __future__ import annotations

from typing import Any, Protocol

from token_service.settings import UpstreamConfig
from token_service.users.models import UpstreamProfile


class UpstreamConnector(Protocol):
    name: str
    kind: str
    display_name: str

    async def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """The upstream authorization URL, and the JSON-serializable values `complete` needs back."""
        ...

    async def complete(self, redirect_uri: str, params: dict[str, str], saved: dict[str, Any]) -> UpstreamProfile:
        """Checks the redirect back (state, error, iss), exchanges the code, and says who signed in."""
        ...


def display_name(upstream: UpstreamConfig, default: str) -> str:
    return upstream.display_name or default
