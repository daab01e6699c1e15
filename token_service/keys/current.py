"""The key snapshot this instance signs and publishes with, kept current from the database."""

from __future__ import annotations

import asyncio
import logging

from token_service.clock import Clock, epoch_seconds
from token_service.keys.keyring import KeySnapshot
from token_service.keys.service import KeyService

log = logging.getLogger("token_service")


class CurrentKeys:
    def __init__(self, keys: KeyService, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self.snapshot: KeySnapshot | None = None

    def current(self) -> KeySnapshot:
        if self.snapshot is None:
            raise RuntimeError("keys are not loaded")
        return self.snapshot

    async def reload(self) -> None:
        self.snapshot = await self._keys.snapshot(self._clock(), previous=self.snapshot)

    async def poll(self, interval: float) -> None:
        # Another instance (or the CLI) may rotate keys; each instance picks the change up
        # within `interval` seconds and serves the JWKS built from the same rows.
        while True:
            await asyncio.sleep(interval)
            try:
                # Due transitions first, so this reload already reflects them; under the
                # transitions lock only one instance performs each.
                await self._keys.advance(epoch_seconds(self._clock))
                await self.reload()
            except Exception as exc:  # keep serving the last snapshot while the database is away
                log.warning("reloading signing keys failed; serving the last snapshot: %s", exc)
