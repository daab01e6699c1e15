"""Prometheus metrics for a service that verifies access tokens, on its own registry.

A per-app `CollectorRegistry` (not the process-wide default) lets several apps live in
one process, as they do in tests and in `token-service dev`.

    metrics = VerifierMetrics(jwks, namespace="billing_api")
    app = Litestar(..., plugins=[BearerAuthPlugin(verifier, on_rejection=metrics.rejected)])
    # and serve exposition(metrics.registry) at GET /metrics
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .errors import KeySetUnavailable, TokenRejected
from .jwks import JwksCache

__all__ = ["VerifierMetrics", "exposition"]


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition of `registry` and its content type, for any framework."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _JwksCollector(Collector):
    """Reads the cache's own counters at scrape time, so the cache needs no metrics code."""

    def __init__(self, jwks: JwksCache, namespace: str) -> None:
        self._jwks = jwks
        self._namespace = namespace

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        ns = self._namespace
        yield CounterMetricFamily(f"{ns}_jwks_fetches", "JWKS requests sent to the issuer (200, 304 or failure)", value=self._jwks.fetch_count)
        yield CounterMetricFamily(f"{ns}_jwks_not_modified", "JWKS requests the issuer answered 304 Not Modified", value=self._jwks.not_modified_count)
        yield GaugeMetricFamily(f"{ns}_jwks_keys", "Signing keys currently held from the issuer's JWKS", value=len(self._jwks.key_ids))
        yield GaugeMetricFamily(f"{ns}_jwks_loaded", "1 when a usable key set is loaded", value=1 if self._jwks.is_loaded else 0)


class VerifierMetrics:
    """Token rejections by rule and error code, and the JWKS cache's fetches."""

    def __init__(self, jwks: JwksCache, *, namespace: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        # Labelled by rule and RFC 6750 code, never by the free-text reason: bounded cardinality.
        self.rejections = Counter(
            f"{namespace}_token_rejections",
            "Requests whose access token was refused, by verifier rule and RFC 6750 error code",
            ["rule", "error"],
            registry=self.registry,
        )
        self.key_set_unavailable = Counter(
            f"{namespace}_key_set_unavailable",
            "Requests answered 503 because the issuer's keys could not be loaded",
            registry=self.registry,
        )
        self.registry.register(_JwksCollector(jwks, namespace))

    def rejected(self, exc: TokenRejected | KeySetUnavailable) -> None:
        if isinstance(exc, TokenRejected):
            self.rejections.labels(exc.rule, exc.error).inc()
        else:
            self.key_set_unavailable.inc()
