"""The token service's one clock: every "now" it reasons with comes from here.

The same shape as the `clock=` the shared verifier and JWKS cache take (a callable
returning epoch seconds), so one object drives all of them and a test moves it instead
of patching module globals (tests/support/clock.py).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds since the Unix epoch (wall-clock time, as `iat`/`exp` use it)."""
        ...


def system_clock() -> float:
    return time.time()


def epoch_seconds(clock: Clock) -> int:
    """Whole seconds, as JWT NumericDate claims and the database's time columns hold them."""
    return int(clock())
