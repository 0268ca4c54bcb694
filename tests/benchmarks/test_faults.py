"""The faults benchmark's breaker watch: it reads each endpoint's state from the gateway's real /metrics text."""

from __future__ import annotations

from benchmarks.faults import breaker_states
from config.cluster import BreakerConfig
from gateway.http.metrics import GatewayMetrics
from gateway.upstream.breakers import EndpointRegistry


def test_breaker_states_come_from_the_metrics_page() -> None:
    metrics = GatewayMetrics()
    registry = EndpointRegistry(["cleaner-node", "backup-node"], BreakerConfig(failure_threshold=2))
    metrics.watch_endpoints(registry)
    assert breaker_states(metrics.render().decode()) == {"cleaner-node": "closed", "backup-node": "closed"}
    for _ in range(2):
        registry.begin("cleaner-node")
        registry.end("cleaner-node", "connection refused")
    assert breaker_states(metrics.render().decode()) == {"cleaner-node": "open", "backup-node": "closed"}
