"""Prometheus metrics of one gateway app, in a registry of its own (no process-global collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gateway.pipeline.outcomes import Refinement

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    """The gateway's collectors; routes and the pipeline report into it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mpr_requests",
            "Requests by route, model and status.",
            ["route", "model", "status"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "mpr_request_latency_seconds",
            "End-to-end request latency.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_outcomes = Counter(
            "mpr_stage_outcomes", "Stage outcomes by status.", ["stage", "status"], registry=self.registry
        )
        self.stage_latency = Histogram(
            "mpr_stage_latency_seconds",
            "Latency of stages that called a worker.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_tokens = Counter(
            "mpr_stage_tokens", "Tokens in and out of stage calls.", ["direction"], registry=self.registry
        )
        self.endpoint_up = Gauge(
            "mpr_endpoint_available", "1 when the endpoint may take calls.", ["endpoint"], registry=self.registry
        )

    def observe_refinement(self, refinement: Refinement) -> None:
        for name, report in refinement.stages.items():
            self.stage_outcomes.labels(name, report.status).inc()
            if report.status != "skipped":
                self.stage_latency.labels(name).observe(report.latency_ms / 1000.0)
        self.stage_tokens.labels("in").inc(refinement.usage.prompt_tokens)
        self.stage_tokens.labels("out").inc(refinement.usage.completion_tokens)

    def observe_request(self, route: str, model: str, status: int, seconds: float) -> None:
        self.requests.labels(route, model, str(status)).inc()
        self.request_latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
