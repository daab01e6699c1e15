"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

from litestar import Response, get

from token_service.backends import BackendHealth
from token_service.endpoints.responses import json_response
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.keys.current import CurrentKeys

# Probes report the backends; they must never be refused because of them.
PROBE = route_opt(backends=())


@get("/healthz", summary="The process is alive", opt=PROBE)
async def healthz() -> Response[bytes]:
    return json_response({"status": "ok"})


@get("/readyz", summary="The instance can serve tokens", opt=PROBE)
async def readyz(backends: Injected[BackendHealth], current_keys: Injected[CurrentKeys]) -> Response[bytes]:
    await backends.check_now()
    snapshot = current_keys.snapshot
    checks = {
        "database": backends.database_ok,
        "store": backends.store_ok,
        "signing_key": snapshot is not None and snapshot.signer is not None,
    }
    ready = all(checks.values())
    headers = None if ready else {"Retry-After": "5"}
    return json_response({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503, headers=headers)
