"""The sign-in methods an operator configured, and the upstream logins in flight."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from token_service.login.connectors.base import UpstreamConnector
from token_service.settings import UpstreamConfig
from token_service.store import EphemeralStore

UPSTREAM_STATE_TTL = 600


class SignInMethods:
    def __init__(self, upstreams: Sequence[UpstreamConfig], connectors: dict[str, UpstreamConnector], callback_base: str) -> None:
        self._upstreams = tuple(upstreams)
        self._connectors = connectors
        self._callback_base = callback_base.rstrip("/")

    def choices(self) -> list[tuple[str, str]]:
        """(name, label) of each redirect-based upstream, as the login page offers them."""
        return [(u.name, u.display_name or u.name) for u in self._upstreams if u.kind != "password"]

    def password(self) -> UpstreamConfig | None:
        return next((u for u in self._upstreams if u.kind == "password"), None)

    def only_redirect(self) -> str | None:
        """The one upstream when it is the only method: there is nothing to choose."""
        if len(self._upstreams) == 1 and self._upstreams[0].kind != "password":
            return self._upstreams[0].name
        return None

    def connector(self, name: str) -> UpstreamConnector | None:
        return self._connectors.get(name)

    def upstream(self, name: str) -> UpstreamConfig:
        return next(u for u in self._upstreams if u.name == name)

    def callback_url(self, name: str) -> str:
        return f"{self._callback_base}/callback/{name}"


class PendingUpstreamLogins:
    """What a redirect to an upstream must find again on its way back, keyed by the upstream `state`."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    async def remember(self, state: str, record: dict[str, Any]) -> None:
        await self._store.put(f"upstream:{state}", json.dumps(record).encode(), UPSTREAM_STATE_TTL)

    async def take(self, state: str) -> dict[str, Any] | None:
        """The record, once: a replayed callback finds nothing."""
        raw = await self._store.consume(f"upstream:{state[:200]}") if state else None
        return None if raw is None else dict(json.loads(raw))
