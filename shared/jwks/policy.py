"""How long a fetched key set is trusted, and how hard a cache may lean on the issuer."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CachePolicy"]

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Time limits of a `JwksCache`, in seconds (refresh_ahead: a fraction of the TTL)."""

    unknown_kid_cooldown: float = 30
    min_ttl: float = 60
    max_ttl: float = 86400
    default_ttl: float = 300
    max_stale: float = 86400
    refresh_ahead: float = 0.1
    error_backoff: float = 2

    def __post_init__(self) -> None:
        if not 0 <= self.refresh_ahead < 1:
            raise ValueError("refresh_ahead is a fraction of the TTL in [0, 1)")
        if self.min_ttl > self.max_ttl:
            raise ValueError("min_ttl must not exceed max_ttl")

    def ttl_from(self, cache_control: str | None) -> float:
        """The TTL a response's Cache-Control asks for, within [min_ttl, max_ttl]."""
        ttl = self.default_ttl
        if cache_control:
            if _NO_CACHE.search(cache_control):
                ttl = self.min_ttl
            elif match := _MAX_AGE.search(cache_control):
                ttl = float(match.group(1))
        # Clamped both ways: a tiny max-age would make every request a fetch, a
        # huge one would keep a revoked key trusted for too long.
        return min(max(ttl, self.min_ttl), self.max_ttl)

    def refresh_after(self, ttl: float) -> float:
        """Seconds after a fetch at which a background refresh starts."""
        return ttl * (1 - self.refresh_ahead)
