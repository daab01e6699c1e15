"""Every JSON log line: any value renders, nothing is masked that should show, and credentials are."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from tests.observability.conftest import CapturedLogs

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class Described:
    def __structlog__(self) -> str:
        return "described"


def test_a_line_with_values_the_encoder_does_not_know_still_renders(captured_logs: CapturedLogs) -> None:
    logging.getLogger("token_service.test").info(
        "odd values",
        extra={"opaque": Opaque(), "described": Described(), "amount": Decimal("1.50"), "count": 3, "ratio": 0.5, "missing": None,
               "display_name": "Zoë", "nested": {"ids": (1, JWT), "client_secret": "s3cret"}},
    )
    [line] = [raw for raw in captured_logs.text.splitlines() if "odd values" in raw]
    event = json.loads(line)
    assert event["opaque"] == "<Opaque thing>" and event["described"] == "described"
    assert event["count"] == 3 and event["ratio"] == 0.5 and event["missing"] is None
    # UTF-8 text stays readable in the line instead of \\u escapes.
    assert event["display_name"] == "Zoë" and "Zoë" in line
    assert event["nested"] == {"ids": [1, "[redacted-jwt]"], "client_secret": "[redacted]"}
    assert JWT not in line and "s3cret" not in line
    assert list(event) == sorted(event)
