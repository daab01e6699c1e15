"""Seconds as people read them in a diagnosis ("3 min 12 s"), not as raw numbers."""

from __future__ import annotations

from datetime import datetime, timezone

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def human_seconds(seconds: float) -> str:
    """`192` -> "3 min 12 s"; at most the two largest units, since more is noise in a message."""
    remaining = int(round(abs(seconds)))
    if remaining == 0:
        return "0 s"
    parts: list[str] = []
    for name, size in _UNITS:
        if remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count} {name}")
        if len(parts) == 2:
            break
    return " ".join(parts)


def utc_text(moment: float) -> str:
    """A NumericDate as an ISO 8601 UTC time, or the raw number when it is out of range."""
    try:
        return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return repr(moment)
