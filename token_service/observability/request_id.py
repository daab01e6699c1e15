"""The request id: taken from a trusted-looking `X-Request-ID`, otherwise generated."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

HEADER = b"x-request-id"

# Short and plain: the value is echoed in a header and written to every log line, so
# anything that could split a line, inject markup or carry a payload is replaced.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def incoming_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == HEADER:
            text = value.decode("latin-1")
            return text if _SAFE.fullmatch(text) else None
    return None


def new_request_id() -> str:
    # 128 random bits as 32 hex digits (the uuid4().hex shape, without building a UUID object).
    return secrets.token_hex(16)
