"""Active health: the periodic probe of every worker (and its adapters) and the readiness verdict."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from config import Cluster
from config.cluster import GatewaySettings
from gateway.upstream.breakers import EndpointRegistry
from gateway.upstream.workers import WorkerPool


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


class Prober:
    """The periodic probe rounds, for the app's lifetime; `/ready` reads their results and never probes itself.

    A round that raises (a bug, or a reply no check foresaw) is logged and counted, and the next round runs.
    """

    def __init__(
        self,
        pool: WorkerPool,
        registry: EndpointRegistry,
        settings: GatewaySettings,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._settings = settings
        self._on_error = on_error
        self.first_round = asyncio.Event()

    async def run_forever(self) -> None:
        while True:
            try:
                await probe_all(self._pool, self._registry, self._settings)
            except Exception as exc:
                logging.getLogger("mpr.gateway").error("probe round failed; the next one runs as usual", exc_info=exc)
                if self._on_error is not None:
                    self._on_error(exc)
            finally:
                self.first_round.set()
            await asyncio.sleep(self._settings.probe_interval_s)

    async def wait_first_round(self) -> None:
        """Until the start-up round has landed (bounded by its own probe timeouts), so an early /ready is true."""
        adapters = max((len(w.adapters) for w in self._pool.workers.values()), default=0)
        bound = self._settings.probe_timeout_s * (adapters + 1) + 1.0
        try:
            await asyncio.wait_for(self.first_round.wait(), bound)
        except TimeoutError:
            return


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
