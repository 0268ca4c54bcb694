"""`mpr launch status`: probe each worker endpoint of the cluster file and tabulate what it serves."""

from __future__ import annotations

import time
from dataclasses import dataclass

from config.cluster import WorkerConfig
from launch.probes import Endpoint, ProbeError, list_models, missing_adapters, request_json


@dataclass(frozen=True)
class EndpointStatus:
    """One worker's observed state: up (all expected models), degraded (some missing) or down."""

    worker: str
    url: str
    state: str
    latency_ms: float | None
    found: str
    detail: str


def probe_worker(worker: WorkerConfig, timeout_s: float = 3.0) -> EndpointStatus:
    endpoint = Endpoint(worker.root_url, worker.api_key)
    started = time.monotonic()
    try:
        request_json(endpoint, "/health", None, timeout_s)
        latency = (time.monotonic() - started) * 1000
        models = list_models(endpoint, timeout_s)
    except ProbeError as exc:
        return EndpointStatus(worker.name, str(worker.url), "down", None, "-", str(exc))
    ids = [str(m.get("id")) for m in models]
    problems = missing_adapters(models, worker.base, worker.adapters)
    found = f"{len([i for i in ids if i in worker.adapters])}/{len(worker.adapters)} adapters"
    state = "degraded" if problems else "up"
    return EndpointStatus(worker.name, str(worker.url), state, latency, found, "; ".join(problems))


def render_table(rows: list[EndpointStatus]) -> str:
    header = ("WORKER", "URL", "STATE", "HEALTH", "MODELS", "DETAIL")
    cells = [header] + [
        (r.worker, r.url, r.state, f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "-", r.found, r.detail)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in cells]
    return "\n".join(line.rstrip() for line in lines)
