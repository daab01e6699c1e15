"""The access log's direct path: one JSON line per request, without the generic logging chain.

An access event goes through stdlib logging and structlog's ProcessorFormatter like any
other line unless `configure_logging` installed this writer. Measured on the token
endpoint, that generic path (a LogRecord, ExtraAdder, a merge of every context variable,
the timestamper, the formatter's copies) cost 40-120 µs per request: up to a third of the
RSA signature the request exists for. An access event's fields are known in advance
(request id, the request facts), so the writer renders the same line directly: the same
keys, the same redaction step, the same JSON encoder settings, to the same handler.

It steps aside (`write` returns False, the caller logs the generic way) whenever the
logging set-up is no longer exactly the one it was installed for: another handler on the
root logger (a test capturing logs, a host application), a handler on the access logger,
or a reconfiguration.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from token_service.observability.json_lines import render
from token_service.observability.redaction import redact_sensitive

ACCESS_LOGGER = "token_service.access"
# The levels an access line is written at, spelled as structlog's add_log_level spells them.
_LEVEL_NAMES = {logging.INFO: "info", logging.ERROR: "error"}


class AccessWriter:
    def __init__(self, handler: logging.StreamHandler[Any]) -> None:
        self._handler = handler
        self._root = logging.getLogger()
        self._access = logging.getLogger(ACCESS_LOGGER)

    def _in_charge(self) -> bool:
        handlers = self._root.handlers
        return (
            len(handlers) == 1
            and handlers[0] is self._handler
            and not self._access.handlers
            and self._access.propagate
            # A filter anywhere on the way may drop or change the event: only the generic path applies it.
            and not (self._access.filters or self._root.filters or self._handler.filters)
        )

    def write(self, level: int, own: dict[str, Any], free: dict[str, Any]) -> bool:
        """Write one access event; False when the generic logging path must do it instead.

        `own`: fields the access line made itself, which cannot hold a credential; `free`:
        fields from the request or an endpoint, redacted as every line is (they win over
        `own` on a clash, as in the generic path's `{**own, **free}`).
        """
        if not self._in_charge():
            return False
        if not self._access.isEnabledFor(level) or level < self._handler.level:
            return True
        event = {
            **own,
            **redact_sensitive(None, "", free),
            "event": "request",
            "level": _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower(),
            "logger": ACCESS_LOGGER,
            # structlog's TimeStamper(fmt="iso", utc=True) spelling, as on every other line.
            "timestamp": datetime.now(tz=UTC).isoformat().replace("+00:00", "Z"),
        }
        line = render(event) + "\n"
        handler = self._handler
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
        finally:
            handler.release()
        return True


_installed: AccessWriter | None = None


def install(writer: AccessWriter | None) -> None:
    global _installed
    _installed = writer


def installed() -> AccessWriter | None:
    return _installed
