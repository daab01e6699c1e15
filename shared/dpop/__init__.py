"""DPoP (RFC 9449): sender-constrained access tokens, checked and made.

`check_proof` validates one proof (both the token service and resource servers use
it), `ReplayCache` keeps proofs single-use, `DPoPKey` makes proofs as a client, and
`shared.dpop.resource` is what a resource server runs per request.
"""

from .builder import DPoPKey
from .errors import InvalidDPoPProof
from .proof import DPOP_ALGORITHMS, DPOP_TYP, CheckedProof, ProofPolicy, access_token_hash, check_proof
from .replay import MemoryReplayCache, RedisReplayCache, ReplayCache, ReplayCacheUnavailable
from .uri import normalize_htu, request_htu

__all__ = [
    "DPOP_ALGORITHMS",
    "DPOP_TYP",
    "CheckedProof",
    "DPoPKey",
    "InvalidDPoPProof",
    "MemoryReplayCache",
    "ProofPolicy",
    "RedisReplayCache",
    "ReplayCache",
    "ReplayCacheUnavailable",
    "access_token_hash",
    "check_proof",
    "normalize_htu",
    "request_htu",
]
