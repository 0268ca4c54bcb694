"""Active health: the periodic probe of every worker (and its adapters) and the readiness verdict."""

from __future__ import annotations

import asyncio
from typing import Any

from config import Cluster
from config.cluster import GatewaySettings
from gateway.endpoints import EndpointRegistry
from gateway.workers import WorkerPool


async def probe_worker(pool: WorkerPool, registry: EndpointRegistry, name: str, settings: GatewaySettings) -> None:
    """/health, then a one-token completion per adapter unless a real call succeeded within the last interval."""
    problem = await pool.probe_health(name, settings.probe_timeout_s)
    recent = registry.recently_ok(name, settings.probe_interval_s)
    if problem is None and settings.probe_adapters and not recent:
        for adapter in pool.workers[name].adapters:
            problem = await pool.probe_adapter(name, adapter, settings.probe_timeout_s)
            if problem is not None:
                problem = f"probe of {adapter}: {problem}"
                break
    registry.record_probe(name, problem is None, problem)


async def probe_all(pool: WorkerPool, registry: EndpointRegistry, settings: GatewaySettings) -> None:
    await asyncio.gather(*(probe_worker(pool, registry, name, settings) for name in pool.workers))


async def probe_forever(pool: WorkerPool, registry: EndpointRegistry, settings: GatewaySettings) -> None:
    """Runs for the app's lifetime; one probe round per interval."""
    while True:
        await probe_all(pool, registry, settings)
        await asyncio.sleep(settings.probe_interval_s)


def readiness(cluster: Cluster, registry: EndpointRegistry) -> tuple[bool, dict[str, Any]]:
    """Ready when every enabled stage has an endpoint that passed its last probe and whose breaker lets calls in.

    The breaker reflects the gateway's own recent call results; the probe covers /health and the adapters.
    """
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
