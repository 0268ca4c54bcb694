"""The adapter allow-list as read from the cluster file: each adapter with its base model and serving workers."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.lora_limits import max_lora_rank
from config.cluster import AdapterSpec, BaseModelSpec, Cluster, WorkerConfig


class ManifestError(Exception):
    """A manifest question the cluster file cannot answer (e.g. an unknown node)."""


@dataclass(frozen=True)
class ServingWorker:
    """A worker that serves an adapter, with the --max-lora-rank the launcher will give it."""

    name: str
    node: str
    max_lora_rank: int


@dataclass(frozen=True)
class ManifestEntry:
    """One allow-listed adapter: public name, spec (role, tier, path, rank, targets) and its base."""

    name: str
    spec: AdapterSpec
    base_name: str
    base: BaseModelSpec
    workers: tuple[ServingWorker, ...]

    @property
    def rank_limit(self) -> int:
        """The smallest --max-lora-rank among the workers serving it (512 when no worker does)."""
        return min((w.max_lora_rank for w in self.workers), default=512)


def worker_max_lora_rank(cluster: Cluster, worker: WorkerConfig) -> int:
    """The effective --max-lora-rank for a worker: its largest adapter rank rounded up."""
    return max_lora_rank(cluster.adapters[name].rank for name in worker.adapters)


def read_manifest(cluster: Cluster, node: str | None = None) -> list[ManifestEntry]:
    """Every adapter (or those served by `node`'s workers), in cluster-file order."""
    workers = cluster.workers if node is None else cluster.workers_on(node)
    if node is not None and not workers:
        known = ", ".join(cluster.worker_nodes) or "none"
        raise ManifestError(f"node {node!r} has no workers in the cluster file (nodes with workers: {known})")
    entries: list[ManifestEntry] = []
    for name, spec in cluster.adapters.items():
        serving = tuple(
            ServingWorker(w.name, w.node, worker_max_lora_rank(cluster, w)) for w in workers if name in w.adapters
        )
        if node is not None and not serving:
            continue
        entries.append(ManifestEntry(name, spec, spec.base, cluster.models[spec.base], serving))
    return entries
