"""`resource-api serve [--host H] [--port P]`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from resource_api.app import create_app
from resource_api.settings import ConfigurationError, load_settings

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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
    return 0
