"""The one typed object a gateway app keeps on `app.state`, and how routes reach it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from fastapi import Request

from config import Cluster
from gateway.endpoints import EndpointRegistry
from gateway.idempotency import Idempotency, IdempotencyStore, MemoryStore
from gateway.idempotency_redis import RedisStore
from gateway.lexicon import Lexicon
from gateway.metrics import GatewayMetrics
from gateway.pipeline.refinement import Refiner
from gateway.targets import TargetPool
from gateway.workers import WorkerPool


@dataclass
class GatewayState:
    cluster: Cluster
    pool: WorkerPool
    registry: EndpointRegistry
    refiner: Refiner
    metrics: GatewayMetrics
    logger: logging.Logger
    targets: TargetPool
    idempotency: Idempotency
    started_at: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def build(cls, cluster: Cluster, lexicon: Lexicon | None = None) -> GatewayState:
        """Everything an app needs; the spelling lexicon is loaded here, once per app, unless one is given."""
        metrics = GatewayMetrics({name: spec.role for name, spec in cluster.adapters.items()})
        pool = WorkerPool(cluster.workers, cluster.retry, metrics)
        lexicon = lexicon if lexicon is not None else Lexicon.load(cluster.arbiter.spelling)
        registry = EndpointRegistry([w.name for w in cluster.workers], cluster.breaker)
        metrics.watch_endpoints(registry)
        return cls(
            cluster=cluster,
            pool=pool,
            registry=registry,
            refiner=Refiner(cluster, pool, registry, lexicon),
            metrics=metrics,
            logger=logging.getLogger("mpr.gateway"),
            targets=TargetPool.build(cluster, metrics),
            idempotency=_idempotency(cluster),
        )


def _idempotency(cluster: Cluster) -> Idempotency:
    """The in-memory store, or Redis when a URL is configured (shared by replicas, kept across restarts)."""
    config = cluster.idempotency
    # A pending marker outlives the longest request, so a replica that died mid-request frees its key.
    pending_ttl_s = cluster.gateway.request_timeout_s + cluster.gateway.drain_timeout_s
    store: IdempotencyStore
    if config.redis_url is None:
        store = MemoryStore(config.max_entries, config.ttl_s, pending_ttl_s)
    else:
        store = RedisStore(config.redis_url, config.key_prefix, config.ttl_s, pending_ttl_s)
    return Idempotency(store)


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state
