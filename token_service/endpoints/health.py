"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from token_service.endpoints.responses import json_response
from token_service.runtime import Runtime


@get("/healthz", summary="The process is alive")
async def healthz() -> Response[bytes]:
    return json_response({"status": "ok"})


@get("/readyz", summary="The instance can serve tokens")
async def readyz(state: State) -> Response[bytes]:
    runtime: Runtime = state.runtime
    await runtime.backends.check_now()
    checks = {
        "database": runtime.backends.database_ok,
        "store": runtime.backends.store_ok,
        "signing_key": runtime.snapshot is not None and runtime.snapshot.signer is not None,
    }
    ready = all(checks.values())
    headers = None if ready else {"Retry-After": "5"}
    return json_response({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503, headers=headers)
