"""Why a DPoP proof (RFC 9449) was refused, as types the HTTP integrations render.

A resource server answers them with 401 and a `DPoP` challenge (RFC 9449 §7.1); the
token service maps them onto its own 400 `invalid_dpop_proof` (§5).
"""

from __future__ import annotations

from ..errors import InvalidToken

__all__ = ["InvalidDPoPProof"]


class InvalidDPoPProof(InvalidToken):
    """The `DPoP` header is missing where needed, malformed, or fails a §4.3 check."""

    error = "invalid_dpop_proof"
    status_code = 401

    def __init__(self, reason: str) -> None:
        super().__init__(reason, rule="dpop")

