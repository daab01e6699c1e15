"""Prometheus metrics of one token-service app, on its own registry (see shared.metrics).

Counters are incremented where the events happen (token endpoint, logins, JWKS); key
states and ages are computed at scrape time from the runtime's current key snapshot,
so they are never stale and need no background task.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from litestar import Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared.metrics import exposition
from token_service.clock import Clock, system_clock
from token_service.http.routes import route_opt
from token_service.keys.keyring import KeySnapshot

KEY_STATES = ("pending", "active", "retired", "revoked")
# prometheus_client's switch to per-process files that any worker sums at scrape time; read
# when prometheus_client is imported, so `serve` sets it before it starts the workers.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

SnapshotSource = Callable[[], KeySnapshot | None]


class KeyStateCollector(Collector):
    def __init__(self, clock: Clock) -> None:
        self.source: SnapshotSource = lambda: None
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.source()
        states = GaugeMetricFamily("token_service_signing_keys", "Signing keys by lifecycle state", labels=["state"])
        counts = {state: 0 for state in KEY_STATES}
        for key in snapshot.keys if snapshot is not None else ():
            counts[key.state] = counts.get(key.state, 0) + 1
        for state, count in counts.items():
            states.add_metric([state], count)
        yield states
        if snapshot is None or snapshot.signer_kid is None:
            return
        active = next(k for k in snapshot.keys if k.kid == snapshot.signer_kid)
        since = active.activated_at or active.created_at
        yield GaugeMetricFamily(
            "token_service_active_key_age_seconds", "Seconds since the signing key became active", value=max(0.0, self._clock() - since)
        )


class TokenServiceMetrics:
    def __init__(self, clock: Clock = system_clock) -> None:
        self.registry = CollectorRegistry()
        # client_id is bounded by the registered clients; unauthenticated callers never reach it.
        self.tokens_issued = Counter(
            "token_service_tokens_issued", "Tokens issued by the token endpoint", ["grant", "client_id"], registry=self.registry
        )
        self.token_errors = Counter(
            "token_service_token_errors", "Token endpoint errors by OAuth error code", ["error"], registry=self.registry
        )
        self.logins = Counter(
            "token_service_logins", "Sign-in attempts by upstream and outcome", ["upstream", "outcome"], registry=self.registry
        )
        self.jwks_responses = Counter(
            "token_service_jwks_responses", "JWKS responses by HTTP status (200, 304)", ["status"], registry=self.registry
        )
        self.status_list_responses = Counter(
            "token_service_status_list_responses",
            "Status list token responses by HTTP status (200, 304, 404, 410)",
            ["status"],
            registry=self.registry,
        )
        self.requests = Counter(
            "token_service_requests", "HTTP requests by route template and status", ["method", "route", "status"], registry=self.registry
        )
        self.request_duration = Histogram(
            "token_service_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._token_children: dict[tuple[str, str], Counter] = {}
        self._keys = KeyStateCollector(clock)
        self.registry.register(self._keys)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition; with several workers (`serve` sets PROMETHEUS_MULTIPROC_DIR),
        the counters and histograms of every worker summed, whichever worker is scraped."""
        if not os.environ.get(MULTIPROCESS_DIR):
            return exposition(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # registers itself on `registry`
        registry.register(self._keys)
        return exposition(registry)

    def watch_keys(self, source: SnapshotSource) -> None:
        """Where the key gauges read the current snapshot (bound when the runtime opens)."""
        self._keys.source = source

    def token_issued(self, grant: str, client_id: str) -> None:
        key = (grant, client_id)
        child = self._token_children.get(key)
        if child is None:
            child = self._token_children[key] = self.tokens_issued.labels(grant, client_id)
        child.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # prometheus_client's labels() validates and locks on every call (~10 µs); the
        # children for one (method, route, status) never change, so they are looked up once.
        # Bounded: routes are templates and methods and statuses are few.
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.request_duration.labels(method, route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def metrics_of(state: State) -> TokenServiceMetrics | None:
    return state.get("metrics")


@get("/metrics", summary="Prometheus metrics", include_in_schema=False, opt=route_opt(backends=()))
async def metrics_endpoint(state: State) -> Response[bytes]:
    metrics: TokenServiceMetrics = state.metrics
    body, content_type = metrics.exposition()
    return Response(content=body, media_type=content_type, headers={"Cache-Control": "no-store"})


def metrics_listener(app: ASGIApp, metrics: TokenServiceMetrics, port: int) -> ASGIApp:
    """Requests that arrived on the metrics port (`TOKEN_SERVICE_METRICS_PORT`) get the
    metrics and nothing else; the rest go to the app."""

    async def answer(send: Send, status: int, body: bytes, content_type: str) -> None:
        headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"), (b"content-length", str(len(body)).encode())]
        start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(start)
        await send(end)

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] != ScopeType.HTTP or server is None or server[1] != port:
            await app(scope, receive, send)
        elif scope["path"] == "/metrics" and scope.get("method") in ("GET", "HEAD"):
            body, content_type = metrics.exposition()
            await answer(send, 200, body, content_type)
        else:
            await answer(send, 404, b"only /metrics is served on this port\n", "text/plain; charset=utf-8")

    return handle
