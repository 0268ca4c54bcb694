"""Active health: the periodic probe of every worker and the readiness verdict built from it."""

from __future__ import annotations

import asyncio
from typing import Any

from config import Cluster
from gateway.endpoints import EndpointRegistry
from gateway.workers import WorkerPool


async def probe_all(pool: WorkerPool, registry: EndpointRegistry, timeout_s: float) -> None:
    names = list(pool.workers)
    results = await asyncio.gather(*(pool.probe_health(name, timeout_s) for name in names))
    for name, problem in zip(names, results, strict=True):
        registry.record_probe(name, problem is None, problem)


async def probe_forever(pool: WorkerPool, registry: EndpointRegistry, interval_s: float, timeout_s: float) -> None:
    """Runs for the app's lifetime; one probe round per interval."""
    while True:
        await probe_all(pool, registry, timeout_s)
        await asyncio.sleep(interval_s)


def readiness(cluster: Cluster, registry: EndpointRegistry) -> tuple[bool, dict[str, Any]]:
    """Ready when every enabled stage has an endpoint that answered its last probe and may take calls."""
    snapshot = registry.snapshot()
    stages: dict[str, Any] = {}
    ready = True
    for name, stage in cluster.stages.items():
        if not stage.enabled:
            continue
        adapters = {a for names in stage.adapters.values() for a in names}
        endpoints = [w.name for w in cluster.workers if adapters & set(w.adapters)]
        reachable = [e for e in endpoints if snapshot[e]["available"] and snapshot[e]["probe_ok"]]
        stages[name] = {"reachable": bool(reachable), "endpoints": endpoints, "reachable_endpoints": reachable}
        ready = ready and bool(reachable)
    return ready, {"ready": ready, "stages": stages, "endpoints": snapshot}
