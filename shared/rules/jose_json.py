"""JSON read the way a JOSE header or JWT claims set must be read."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DuplicateMember", "NestedTooDeeply", "strict_json"]


class DuplicateMember(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"member {name!r} appears more than once")
        self.name = name


class NestedTooDeeply(ValueError):
    """Python's JSON parser raises RecursionError (not a ValueError) on deep nesting;
    as a ValueError it is refused like any other unreadable JSON instead of escaping as a 500."""

    def __init__(self) -> None:
        super().__init__("JSON nested too deeply")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise DuplicateMember(name)
        members[name] = value
    return members


def _reject_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str | bytes) -> Any:
    """JSON as a JWT must be: no repeated member names, no NaN or Infinity.

    RFC 7515 §5.2 and RFC 7519 §7.2 make a JOSE header or claims set with duplicate
    member names invalid (or only valid with last-wins parsing, which is exactly how
    two parsers come to disagree about the same token: RFC 8725 §2.7). Raises
    DuplicateMember, NestedTooDeeply or another ValueError.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # RFC 7519 §7.2: the JSON is UTF-8
    try:
        return _STRICT_DECODER.decode(text)
    except RecursionError:
        raise NestedTooDeeply() from None


# One decoder, built once: json.loads with hooks would construct a new one per call, on
# the hot path of every verification.
_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_reject_json_constant)
