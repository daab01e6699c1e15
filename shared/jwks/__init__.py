"""The issuer's signing keys, fetched by discovery and cached the way HTTP caching intends.

`fetch` talks to the issuer (discovery, conditional GET), `key_set` decides which
published keys are usable, `policy` turns Cache-Control into how long a set is
trusted, and `cache` (`JwksCache`) holds the set for every request of a process:
one shared fetch at a time, refresh ahead of expiry, stale-on-error, and a cooldown
on refetches for unknown `kid`s.
"""

from __future__ import annotations

from .cache import JwksCache, JwksStatus
from .policy import CachePolicy

__all__ = ["CachePolicy", "JwksCache", "JwksStatus"]
