"""The supervised workers' restarts as Prometheus metrics on the gateway's /metrics (`mpr up` joins the two)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from launch.supervision import RestartRecord


class RestartView(Protocol):
    """Where the records come from (launch.supervision.WorkerSupervisor)."""

    def snapshot(self) -> Mapping[str, RestartRecord]: ...


class WorkerRestartCollector(Collector):
    """Restarts and given-up workers, read from the supervisor at scrape time (launch knows nothing of metrics)."""

    def __init__(self, view: RestartView) -> None:
        self._view = view

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        restarts, given_up = self._families()
        for worker, record in self._view.snapshot().items():
            restarts.add_metric([worker], float(record.restarts))
            given_up.add_metric([worker], 1.0 if record.gave_up else 0.0)
        return [restarts, given_up]

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "mpr_worker_restarts", "Times `mpr up` restarted a worker whose server exited.", labels=["worker"]
            ),
            GaugeMetricFamily(
                "mpr_worker_given_up",
                "1 when `mpr up` stopped restarting the worker after repeated fast failures.",
                labels=["worker"],
            ),
        )
