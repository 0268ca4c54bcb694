"""The one typed object a gateway app keeps on `app.state`, and how routes reach it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from fastapi import Request

from config import Cluster
from gateway.endpoints import EndpointRegistry
from gateway.lexicon import Lexicon
from gateway.metrics import GatewayMetrics
from gateway.pipeline.refinement import Refiner
from gateway.workers import WorkerPool


@dataclass
class GatewayState:
    cluster: Cluster
    pool: WorkerPool
    registry: EndpointRegistry
    refiner: Refiner
    metrics: GatewayMetrics
    logger: logging.Logger
    started_at: int = field(default_factory=lambda: int(time.time()))
    probe_task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, cluster: Cluster, lexicon: Lexicon | None = None) -> GatewayState:
        """Everything an app needs; the spelling lexicon is loaded here, once per app, unless one is given."""
        pool = WorkerPool(cluster.workers, cluster.retry)
        lexicon = lexicon if lexicon is not None else Lexicon.load(cluster.arbiter.spelling)
        registry = EndpointRegistry([w.name for w in cluster.workers], cluster.breaker)
        return cls(
            cluster=cluster,
            pool=pool,
            registry=registry,
            refiner=Refiner(cluster, pool, registry, lexicon),
            metrics=GatewayMetrics(),
            logger=logging.getLogger("mpr.gateway"),
        )


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state
