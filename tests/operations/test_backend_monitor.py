"""The backend monitor tells a busy instance from a database outage.

A process whose event loop is saturated (CPU-bound work, a flood of requests) answers
its own pings late; if that counted as an outage, an overload would turn into 503s on
every endpoint that needs the database (what a flood of anonymous /authorize did).
Real outages are still detected: tests/operations/test_degraded_mode.py cuts the
connection to PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from token_service.backends import PING_TIMEOUT
from token_service.runtime import open_runtime

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def saturate_loop() -> None:
    # Let the monitor arm its ping and heartbeat, then hold the loop as CPU-bound work would.
    await asyncio.sleep(0)
    time.sleep(PING_TIMEOUT + 0.5)


async def test_a_saturated_event_loop_is_not_a_database_outage(make_settings: Any) -> None:
    runtime = await open_runtime(make_settings())
    try:
        for _ in range(3):
            hog = asyncio.create_task(saturate_loop())
            await runtime.backends.check_now()
            await hog
        assert runtime.backends.database_ok and runtime.backends.store_ok
        runtime.backends.require()
        # Once the loop breathes again the ping is judged normally, and answers.
        assert await runtime.backends.check_now()
    finally:
        await runtime.close()

