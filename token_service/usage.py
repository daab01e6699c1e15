"""The error every command raises for bad arguments (exit 2), kept apart from `cli` so
command modules can import it without importing the whole command line."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable


class UsageError(Exception):
    """Bad arguments: exit 2 with the message."""


async def remove_registered(kind: str, key: str, declared: Iterable[str], remove: Callable[[str], Awaitable[bool]]) -> int:
    """`clients remove` / `resources remove`: refuse what the config file declares, exit 1 when absent."""
    if key in set(declared):
        raise UsageError(f"{kind} {key!r} is declared in the config file; remove it there")
    if not await remove(key):
        print(f"token-service: no {kind} {key!r}", file=sys.stderr)
        return 1
    print(f"removed {kind} {key}")
    return 0
