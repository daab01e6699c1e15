"""`resource-api serve [--host H] [--port P]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from resource_api.app import create_app
from resource_api.settings import ConfigurationError, load_settings
from token_service.observability.logging import configure_logging

__all__ = ["main"]

EXIT_CONFIGURATION_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resource-api", description="The example notes API trusting the token service.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the API (needs RESOURCE_API_ISSUER)")
    serve.add_argument("--host", help="interface to listen on (default RESOURCE_API_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default RESOURCE_API_PORT or 8001)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        print(f"resource-api: configuration error\n{exc.message}", file=sys.stderr)
        return EXIT_CONFIGURATION_ERROR
    # The token service's logging pipeline: structured lines, secrets and JWTs redacted.
    configure_logging(settings.log_format)
    # uvicorn's access log prints query strings, where codes and tokens can travel: off.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False, log_config=None)
    return 0
