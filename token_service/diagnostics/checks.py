"""One line per `doctor` check: ok / warn / fail, what was found, and the fix."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    message: str
    fix: str | None = None


def ok(name: str, message: str) -> Check:
    return Check(name, "ok", message)


def warn(name: str, message: str, fix: str | None = None) -> Check:
    return Check(name, "warn", message, fix)


def fail(name: str, message: str, fix: str | None = None) -> Check:
    return Check(name, "fail", message, fix)


def healthy(checks: Sequence[Check]) -> bool:
    return all(c.status != "fail" for c in checks)


def render_text(checks: Sequence[Check]) -> str:
    lines = [f"{c.status:<4}  {c.name}: {c.message}" + (f"\n      fix: {c.fix}" if c.fix else "") for c in checks]
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(f"\n{'healthy' if not failed else 'NOT healthy'}: {failed} failed, {warned} warning(s), {len(checks)} checks")
    return "\n".join(lines)


def render_json(checks: Sequence[Check]) -> str:
    return json.dumps({"healthy": healthy(checks), "checks": [asdict(c) for c in checks]}, indent=2)
