"""The key-timing arithmetic every rotation guarantee rests on (see `token_service.keys.lifecycle`).

It lives with the configuration because a bad combination of timing settings must stop
start-up with the arithmetic and the fix, before any key exists; key lifecycle planning
imports it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from token_service.settings import TokenServiceSettings

__all__ = ["KeyTimings"]


@dataclass(frozen=True)
class KeyTimings:
    jwks_max_age: int
    publish_margin: int
    prepublish: int
    longest_token_ttl: int
    leeway: int
    rotation_period: int  # 0: rotate only by hand

    @classmethod
    def from_settings(cls, settings: TokenServiceSettings) -> KeyTimings:
        return cls(
            jwks_max_age=settings.jwks_max_age,
            publish_margin=settings.key_publish_margin,
            prepublish=settings.key_prepublish_seconds,
            longest_token_ttl=max(settings.access_token_ttl, settings.id_token_ttl),
            leeway=settings.leeway,
            rotation_period=settings.key_rotation_period,
        )

    @property
    def cache_horizon(self) -> int:
        """Seconds after a JWKS change until every verifier honouring our cache headers has it."""
        return self.jwks_max_age + self.publish_margin

    @property
    def retirement_window(self) -> int:
        return self.longest_token_ttl + self.leeway + self.cache_horizon

    def problems(self) -> list[str]:
        """Settings that would break the guarantees above, each with the arithmetic and the fix."""
        found = []
        if self.cache_horizon > self.prepublish:
            found.append(
                f"TOKEN_SERVICE_JWKS_MAX_AGE ({self.jwks_max_age} s) + TOKEN_SERVICE_KEY_PUBLISH_MARGIN "
                f"({self.publish_margin} s) = {self.cache_horizon} s exceeds TOKEN_SERVICE_KEY_PREPUBLISH_SECONDS "
                f"({self.prepublish} s): a verifier could still hold a cached JWKS without the next key when it starts "
                f"signing; set TOKEN_SERVICE_KEY_PREPUBLISH_SECONDS to at least {self.cache_horizon} "
                "or lower TOKEN_SERVICE_JWKS_MAX_AGE"
            )
        needed = self.prepublish + self.retirement_window
        if self.rotation_period and self.rotation_period < needed:
            found.append(
                f"TOKEN_SERVICE_KEY_ROTATION_PERIOD ({self.rotation_period} s) is shorter than "
                f"TOKEN_SERVICE_KEY_PREPUBLISH_SECONDS ({self.prepublish} s) + retirement window "
                f"({self.retirement_window} s = max(TOKEN_SERVICE_ACCESS_TOKEN_TTL, TOKEN_SERVICE_ID_TOKEN_TTL) "
                f"{self.longest_token_ttl} s + TOKEN_SERVICE_LEEWAY {self.leeway} s + TOKEN_SERVICE_JWKS_MAX_AGE "
                f"{self.jwks_max_age} s + TOKEN_SERVICE_KEY_PUBLISH_MARGIN {self.publish_margin} s) = {needed} s: "
                f"a new key would be published before the previous retired key has left the JWKS; set it to at "
                f"least {needed}, or to 0 to rotate only with `token-service keys rotate`"
            )
        return found
