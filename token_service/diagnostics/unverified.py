"""Reading a token's header and claims WITHOUT trusting them, to describe what was sent.

Nothing decoded here is used to accept a token: the verdict always comes from
`AccessTokenVerifier.evaluate`. This only lets `explain` say what the string is
(an ID token, an encrypted session cookie, an HMAC token) and show its claims.
The signature segment is never kept, so it cannot end up in any output.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

Shape = Literal["jws", "jwe", "other"]


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    shape: Shape
    segments: int
    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    """The JWS payload as a JSON object; None for a JWE (its payload is encrypted) or garbage."""
    bearer_prefix: bool
    """The string still starts with "Bearer ": the whole Authorization header value was pasted."""

    @property
    def alg(self) -> str | None:
        alg = (self.header or {}).get("alg")
        return alg if isinstance(alg, str) else None


def _json_segment(segment: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: JSON nested too deeply to parse
        return None
    return value if isinstance(value, dict) else None


def read_unverified(token: str) -> UnverifiedToken:
    bearer_prefix = token[:7].lower() == "bearer "
    segments = token.split(".")
    header = _json_segment(segments[0]) if len(segments) in (3, 5) else None
    if len(segments) == 5:
        # RFC 7516 §7.1: a compact JWE has five segments; only its header is readable.
        return UnverifiedToken("jwe", 5, header, None, bearer_prefix)
    if len(segments) == 3:
        return UnverifiedToken("jws", 3, header, _json_segment(segments[1]), bearer_prefix)
    return UnverifiedToken("other", len(segments), None, None, bearer_prefix)
