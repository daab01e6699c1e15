"""The `status_list` of a Status List Token (draft-ietf-oauth-status-list §4): pure functions, no I/O.

A list of `bits`-wide statuses, packed from the least significant bit of the first byte
(index 0) on, compressed with zlib (RFC 1950, DEFLATE) and encoded base64url without
padding. Both services use these functions: the token service to publish, the verifier to
read, so the two cannot disagree about which bit is which.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable

__all__ = ["VALID_BITS", "StatusListError", "decode_lst", "encode_lst", "status_at"]

VALID_BITS = (1, 2, 4, 8)


class StatusListError(ValueError):
    """The `lst` is not a well-formed status list (the message says what is wrong)."""


def encode_lst(size: int, revoked: Iterable[int], *, bits: int = 1) -> str:
    """A list of `size` statuses, all 0x00 (VALID) except `revoked`, which are 0x01 (INVALID)."""
    if bits not in VALID_BITS:
        raise ValueError(f"bits must be one of {VALID_BITS}")
    packed = bytearray((size * bits + 7) // 8)
    for index in revoked:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a list of {size}")
        position = index * bits
        packed[position >> 3] |= 1 << (position & 7)
    # Level 6 (zlib's default): level 9 took 4-20x longer on lists with scattered revocations
    # for 2-15 % fewer bytes (benchmarks/status_lists.py).
    compressed = zlib.compress(bytes(packed), 6)
    return base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_lst(lst: object, *, max_bytes: int) -> bytes:
    """The packed statuses of `lst`; refuses one that decompresses to more than `max_bytes`
    (a few KiB of zlib can inflate to gigabytes)."""
    if not isinstance(lst, str) or not lst:
        raise StatusListError("status_list.lst must be a non-empty base64url string")
    if len(lst) > 4 * max_bytes:
        raise StatusListError("status_list.lst is longer than any list this verifier accepts")
    try:
        compressed = base64.b64decode(lst + "=" * (-len(lst) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise StatusListError("status_list.lst is not base64url") from None
    inflater = zlib.decompressobj()
    try:
        packed = inflater.decompress(compressed, max_bytes)
    except zlib.error as exc:
        raise StatusListError(f"status_list.lst is not zlib data ({exc})") from None
    if inflater.unconsumed_tail:
        raise StatusListError(f"status_list.lst decompresses to more than {max_bytes} bytes")
    if not inflater.eof:
        raise StatusListError("status_list.lst is truncated (the zlib stream does not end)")
    if inflater.unused_data:
        raise StatusListError("status_list.lst has data after the end of its zlib stream")
    return packed


def status_at(packed: bytes, index: int, bits: int) -> int | None:
    """The status at `index`, or None when the list has no such index."""
    position = index * bits
    byte = position >> 3
    if index < 0 or byte >= len(packed):
        return None
    return (packed[byte] >> (position & 7)) & ((1 << bits) - 1)
