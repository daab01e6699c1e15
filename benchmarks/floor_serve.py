"""Serves a `floor_apps` app the way `token-service serve` serves the token service: uvicorn's
supervisor, a worker per core, a listening socket per worker, httptools and uvloop.

    uv run python -m benchmarks.floor_serve litestar_route PORT
"""

from __future__ import annotations

import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from token_service.serve import bind, usable_cores


def main() -> None:
    name, port = sys.argv[1], int(sys.argv[2])
    workers = usable_cores()
    config = uvicorn.Config(f"benchmarks.floor_apps:{name}", host="127.0.0.1", port=port, workers=workers, http="httptools", loop="uvloop",
                            access_log=False, server_header=False, log_level="warning")
    sockets = [bind("127.0.0.1", port, per_worker=workers > 1)]
    if workers == 1:
        uvicorn.Server(config).run(sockets=sockets)
    else:
        Multiprocess(config, sockets=sockets).run()


if __name__ == "__main__":
    main()
