"""Registers the diagnostic sub-commands (`explain`, `doctor`) on the `token-service` parser."""

from __future__ import annotations

from typing import Any

from token_service.diagnostics import doctor, explain


def register(sub: Any) -> None:
    explain.register(sub)
    doctor.register(sub)
