"""The one typed object a gateway app keeps on `app.state`, and how routes reach it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from adapters.knowledge.errors import KnowledgeError
from adapters.knowledge.index import KnowledgeIndex
from config import Cluster, ConfigError
from config.cluster import KnowledgeConfig
from gateway.http.idempotency import Idempotency, IdempotencyStore, MemoryStore
from gateway.http.idempotency_redis import RedisStore
from gateway.http.metrics import GatewayMetrics
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.names import (
    SINGLE_NAME_MIN_COUNT,
    common_word_titles,
    name_phrases,
    single_names,
    usage_names,
)
from gateway.pipeline.refinement import Refiner
from gateway.upstream.breakers import EndpointRegistry
from gateway.upstream.readiness import Prober
from gateway.upstream.targets.pool import TargetPool
from gateway.upstream.workers import WorkerPool


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
    prober: Prober
    knowledge: KnowledgeIndex | None = None
    started_at: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def build(cls, cluster: Cluster, lexicon: Lexicon | None = None) -> GatewayState:
        """Everything an app needs; the spelling lexicon is loaded here, once per app, unless one is given."""
        metrics = GatewayMetrics({name: spec.role for name, spec in cluster.adapters.items()})
        pool = WorkerPool(cluster.workers, cluster.retry, metrics)
        lexicon = lexicon if lexicon is not None else Lexicon.load(cluster.arbiter.spelling)
        registry = EndpointRegistry([w.name for w in cluster.workers], cluster.breaker)
        metrics.watch_endpoints(registry)
        knowledge = open_knowledge(cluster.knowledge)
        lexicon = with_knowledge_names(lexicon, knowledge)
        return cls(
            cluster=cluster,
            pool=pool,
            registry=registry,
            refiner=Refiner(cluster, pool, registry, lexicon, knowledge),
            knowledge=knowledge,
            metrics=metrics,
            logger=logging.getLogger("mpr.gateway"),
            targets=TargetPool.build(cluster, metrics),
            idempotency=_idempotency(cluster),
            prober=Prober(pool, registry, cluster.gateway, metrics.observe_probe_error),
        )


def open_knowledge(config: KnowledgeConfig | None) -> KnowledgeIndex | None:
    """The describer's index, opened read-only (each replica its own copy of one file); None: parametric."""
    if config is None:
        return None
    try:
        return KnowledgeIndex.open(Path(config.index))
    except KnowledgeError as exc:
        raise ConfigError(
            f"knowledge.index: {exc} (build it with `mpr adapters demo` or `mpr knowledge build`)"
        ) from exc


def with_knowledge_names(lexicon: Lexicon, knowledge: KnowledgeIndex | None) -> Lexicon:
    """The lexicon with the proper names among the index's titles (the cleaner capitalises them), if any."""
    if knowledge is None or lexicon.names:
        return lexicon
    titles = knowledge.titles()
    named = [*titles, *knowledge.aliases()]
    cases = knowledge.word_cases()
    single = single_names(cases.names(SINGLE_NAME_MIN_COUNT), lexicon)
    common = common_word_titles(titles, lexicon)
    usage = usage_names(knowledge.written_cases(common), common, lexicon)
    return lexicon.with_names(name_phrases(named, lexicon), knowledge.words(), single, cases.lower, usage)


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
