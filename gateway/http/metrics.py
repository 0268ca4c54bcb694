"""Prometheus metrics of one gateway app, in a registry of its own (no process-global collectors)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.pipeline.outcomes import Refinement
from gateway.upstream.calls import Call, UpstreamKind, Usage

if TYPE_CHECKING:
    from gateway.upstream.breakers import EndpointRegistry

# 1 ms .. 30 s: a relayed call, a skip-gated prompt, a stage on CPU, a slow large-tier stage.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BREAKER_STATES = ("closed", "half_open", "open")


class _EndpointCollector(Collector):
    """Breaker state, availability and in-flight calls per endpoint, read from the registry at scrape time."""

    def __init__(self, endpoints: EndpointRegistry) -> None:
        self._endpoints = endpoints

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        available, breaker, inflight = families
        for name, row in self._endpoints.snapshot().items():
            available.add_metric([name], 1.0 if row["available"] else 0.0)
            for state in BREAKER_STATES:
                breaker.add_metric([name, state], 1.0 if row["breaker"] == state else 0.0)
            count = row["inflight"]
            inflight.add_metric([name], float(count) if isinstance(count, int) else 0.0)
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("mpr_endpoint_available", "1 when the endpoint may take calls now.", labels=["endpoint"]),
            GaugeMetricFamily(
                "mpr_endpoint_breaker_state",
                "Circuit breaker state per endpoint (1 for the current state).",
                labels=["endpoint", "state"],
            ),
            GaugeMetricFamily("mpr_endpoint_inflight", "Worker calls in flight per endpoint.", labels=["endpoint"]),
        ]


class GatewayMetrics:
    """The gateway's collectors; the request middleware, the worker pool and the pipeline report into it."""

    def __init__(self, adapter_stages: Mapping[str, str] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._adapter_stages = dict(adapter_stages or {})
        self._build_request_metrics()
        self._build_stage_metrics()
        self._build_worker_metrics()
        self._build_target_metrics()

    def _build_request_metrics(self) -> None:
        r = self.registry
        self.requests = Counter(
            "mpr_requests", "Requests by route, model and status.", ["route", "model", "status"], registry=r
        )
        self.request_latency = Histogram(
            "mpr_request_latency_seconds", "End-to-end request latency.", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge("mpr_requests_in_flight", "Requests being served now.", registry=r)
        self.probe_errors = Counter(
            "mpr_probe_errors", "Probe rounds that raised, by exception type (the task goes on).", ["error"], registry=r
        )
        self.replays = Counter(
            "mpr_idempotent_replays", "Requests answered from the idempotency store.", ["route"], registry=r
        )

    def _build_stage_metrics(self) -> None:
        r = self.registry
        self.stage_outcomes = Counter(
            "mpr_stage_outcomes",
            "Stage outcomes by status and reason class.",
            ["stage", "status", "reason"],
            registry=r,
        )
        self.stage_latency = Histogram(
            "mpr_stage_latency_seconds",
            "Latency of stages that called a worker.",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.refine_latency = Histogram(
            "mpr_refine_latency_seconds",
            "The refinement pipeline's own latency (arbiter, stages, merger).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_tokens = Counter(
            "mpr_stage_tokens", "Tokens in and out of worker calls per stage.", ["stage", "direction"], registry=r
        )

    def _call_metrics(self, kind: str, label: str, latency_help: str) -> tuple[Counter, Histogram]:
        """Attempts by callee and result, and their latency: the same pair for workers and targets."""
        calls = Counter(
            f"mpr_{kind}_calls", f"{kind.capitalize()} call attempts by {label} and result.", [label, "result"],
            registry=self.registry,
        )  # fmt: skip
        latency = Histogram(
            f"mpr_{kind}_call_latency_seconds", latency_help, [label], buckets=LATENCY_BUCKETS, registry=self.registry
        )
        return calls, latency

    def _build_worker_metrics(self) -> None:
        help_text = "Latency of single worker call attempts."
        self.worker_calls, self.worker_latency = self._call_metrics("worker", "endpoint", help_text)

    def _build_target_metrics(self) -> None:
        help_text = "Latency of single target (relay) call attempts: to the whole answer, or to a stream's headers."
        self.target_calls, self.target_latency = self._call_metrics("target", "target", help_text)

    def watch_endpoints(self, endpoints: EndpointRegistry) -> None:
        """Export the endpoints' breaker state, availability and in-flight calls on every scrape."""
        self.registry.register(_EndpointCollector(endpoints))

    def observe_request(self, route: str, model: str, status: int, seconds: float) -> None:
        self.requests.labels(route, model, str(status)).inc()
        self.request_latency.labels(route).observe(seconds)

    def observe_refinement(self, refinement: Refinement) -> None:
        self.refine_latency.observe(refinement.latency_ms / 1000.0)
        for name, report in refinement.stages.items():
            self.stage_outcomes.labels(name, report.status, report.reason_class.value).inc()
            if report.status != "skipped":
                self.stage_latency.labels(name).observe(report.latency_ms / 1000.0)

    def observe_call(self, call: Call, result: str, seconds: float, usage: Usage | None) -> None:
        """One attempt against a worker or a target: its result (ok, timeout, connection, http_4xx, ...) and tokens."""
        if call.kind is UpstreamKind.TARGET:
            self.target_calls.labels(call.name, result).inc()
            self.target_latency.labels(call.name).observe(seconds)
            return
        self.worker_calls.labels(call.name, result).inc()
        self.worker_latency.labels(call.name).observe(seconds)
        if usage is not None and call.route is not None:
            stage = self._adapter_stages.get(call.route.adapter, "unknown")
            self.stage_tokens.labels(stage, "in").inc(usage.prompt_tokens)
            self.stage_tokens.labels(stage, "out").inc(usage.completion_tokens)

    def observe_probe_error(self, error: Exception) -> None:
        """A probe round that raised; the probe task carries on."""
        self.probe_errors.labels(type(error).__name__).inc()

    def observe_replay(self, route: str) -> None:
        """A request answered from the idempotency store instead of running the pipeline again."""
        self.replays.labels(route).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
