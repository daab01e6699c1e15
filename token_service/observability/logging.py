"""Configure stdlib logging and structlog once at start-up (`serve`, `dev`).

Everything goes through one stdlib handler with structlog's `ProcessorFormatter`, so
lines from structlog loggers, our stdlib loggers and libraries (uvicorn, httpx,
SQLAlchemy) share one format, carry the request id bound for the current request,
and pass the same redaction step. JSON lines in production, readable lines in `dev`.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Literal

import structlog
from structlog.typing import Processor

from token_service.observability import access_writer, json_lines
from token_service.observability.access import merge_request_facts
from token_service.observability.redaction import redact_sensitive

LogFormat = Literal["json", "console"]

_HANDLER_MARK = "_token_service_observability"


def _shared_processors() -> list[Processor]:
    return [
        merge_request_facts,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(log_format: LogFormat) -> Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer(serializer=json_lines.render)
    # Plain tracebacks: rich's default would print local variables, which hold secrets.
    return structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)


def log_formatter(log_format: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction, so a JWT quoted in one is masked too.
            structlog.processors.format_exc_info,
            redact_sensitive,
            _renderer(log_format),
        ],
    )


def configure_logging(log_format: LogFormat, *, level: int = logging.INFO, stream: IO[str] | None = None) -> logging.Handler:
    """Route structlog and stdlib logging to one handler on `stream` (stderr by default).

    Calling it again replaces the handler it installed before (tests reconfigure).
    """
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: module-level loggers must follow a later reconfiguration.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(log_formatter(log_format))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    # Access events in JSON take the direct path (see access_writer); the console format
    # is for people reading `dev`, where the generic path's cost does not matter.
    access_writer.install(access_writer.AccessWriter(handler) if log_format == "json" else None)
    # Our access log replaces uvicorn's, whose request line would include the query
    # string, where authorization codes and state travel.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    return handler
