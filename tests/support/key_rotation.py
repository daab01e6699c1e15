"""Key changes made the way an operator makes them, against a running service's database."""

from __future__ import annotations

import asyncio

from token_service.db.engine import create_engine, session_factory
from token_service.keys.sealing import load_kek
from token_service.keys.service import KeyService
from token_service.settings import TokenServiceSettings

__all__ = ["planned_rotation"]


def planned_rotation(settings: TokenServiceSettings) -> None:
    """What `token-service keys rotate` does, against the service's database."""

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await KeyService.from_settings(session_factory(engine), load_kek(settings), settings).rotate(activate_now=False)
        finally:
            await engine.dispose()

    asyncio.run(run())
