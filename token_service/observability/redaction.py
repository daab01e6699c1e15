"""A last line of defence: no credential reaches a log line, whoever wrote the call.

Endpoints are written not to log secrets at all; this processor catches the mistakes
(a `log.info("...", token=...)`, an exception message quoting a JWT) before rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any

REDACTED = "[redacted]"
REDACTED_JWT = "[redacted-jwt]"

SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "assertion",
        "authorization",
        "client_assertion",
        "client_secret",
        "code",
        "code_verifier",
        "cookie",
        "id_token",
        "key_encryption_key",
        "password",
        "private_key",
        "refresh_token",
        "secret",
        "session",
        "session_id",
        "set-cookie",
        "token",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "password", "_cookie")

# A compact JWS or JWE always starts with a base64url JSON object, i.e. `eyJ` (`{"`);
# anchoring on it keeps dotted names such as `token_service.endpoints.login` intact.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?")


# Log keys are few and repeat on every line (the access line alone has a dozen): bounded cache.
@lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SENSITIVE_KEYS or lowered.endswith(_SENSITIVE_SUFFIXES)


# Values that cannot hold a credential's text: returned before the ABC checks below, which
# cost more than the rest of a line's redaction (the access line is mostly numbers and ids).
_SCALARS = (int, float, type(None))


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        # Every match starts with `eyJ`: a substring test spares the regex on almost every value.
        return _JWT.sub(REDACTED_JWT, value) if "eyJ" in value else value
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and is_sensitive_key(k) else redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item) for item in value]
    return value


def redact_sensitive(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask sensitive keys and JWT-shaped strings anywhere in the event."""
    return {
        key: REDACTED if is_sensitive_key(key) and value is not None else redact_value(value)
        for key, value in event_dict.items()
    }
