"""`mpr launch ...`: print plans, run a node's workers, probe endpoints, write systemd units."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from adapters.manifest import read_manifest
from adapters.progress import Progress
from adapters.toolchain import ToolchainError
from adapters.validation import validate_manifest
from config.cluster import Cluster
from config.environment import MprEnvironment
from config.loading import ConfigError, load_cluster
from launch.display import render_node
from launch.plan import LaunchPlanError, ServerPlan, plan_node
from launch.processes import Terminated, WorkerProcesses, WorkerStartError, ensure_engine, sigterm_unwinds
from launch.status import probe_worker, render_table
from launch.systemd import SECRETS_FILE, enable_hint, write_units
from launch.waiting import NotReadyError, wait_ready


def _load(path: Path, require_secrets: bool) -> tuple[Cluster, MprEnvironment]:
    env = MprEnvironment()
    return load_cluster(path, env, require_secrets=require_secrets), env


def _plan(args: argparse.Namespace) -> int:
    cluster, env = _load(args.cluster, require_secrets=False)
    nodes = [args.node] if args.node else sorted({*cluster.worker_nodes, cluster.gateway.node})
    sections = [render_node(node, plan_node(cluster, node, env), cluster.gateway.node) for node in nodes]
    print("\n\n".join(sections))
    return 0


def _supervise(plans: list[ServerPlan], progress: Progress, ready_timeout_s: float) -> int:
    with WorkerProcesses(plans, progress=progress) as workers:
        workers.wait_ready(ready_timeout_s)
        print("ready", flush=True)
        while True:
            dead = workers.exited()
            if dead:
                progress.say(f"worker(s) exited unexpectedly: {dead}; stopping the rest")
                return 1
            time.sleep(1.0)


def _invalid_adapters(cluster: Cluster, node: str) -> list[str]:
    """`mpr adapters validate` for the node: a bad adapter fails here in a second, not in vLLM minutes later."""
    return [r.line() for r in validate_manifest(read_manifest(cluster, node)) if not r.ok]


def _worker(args: argparse.Namespace) -> int:
    cluster, env = _load(args.cluster, require_secrets=True)
    plans = plan_node(cluster, args.node, env)
    if not plans:
        print(f"error: node {args.node!r} has no workers in {args.cluster}", file=sys.stderr)
        return 2
    invalid = [] if args.skip_validation else _invalid_adapters(cluster, args.node)
    if invalid:
        print("\n".join(["error: adapters failed validation (--skip-validation to start anyway):", *invalid]),
              file=sys.stderr)  # fmt: skip
        return 2
    progress = Progress()
    try:
        with sigterm_unwinds():
            ensure_engine(plans, env, progress)
            return _supervise(plans, progress, args.ready_timeout)
    except (KeyboardInterrupt, Terminated):
        progress.say("stopped")
        return 0
    except (WorkerStartError, ToolchainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _status(args: argparse.Namespace) -> int:
    cluster, _ = _load(args.cluster, require_secrets=True)
    workers = cluster.workers_on(args.node) if args.node else cluster.workers
    rows = [probe_worker(w, args.timeout) for w in workers]
    print(render_table(rows))
    return 1 if any(r.state == "down" for r in rows) else 0


def _wait(args: argparse.Namespace) -> int:
    cluster, _ = _load(args.cluster, require_secrets=True)
    workers = cluster.workers_on(args.node)
    if not workers:
        print(f"error: node {args.node!r} has no workers in {args.cluster}", file=sys.stderr)
        return 2
    try:
        wait_ready(workers, args.timeout, Progress())
    except NotReadyError as exc:
        print(f"error: node {args.node}: {exc}", file=sys.stderr)
        return 1
    return 0


def _systemd(args: argparse.Namespace) -> int:
    cluster, env = _load(args.cluster, require_secrets=False)
    plans = plan_node(cluster, args.node, env)
    if not plans:
        print(f"error: node {args.node!r} has no workers in {args.cluster}", file=sys.stderr)
        return 2
    paths = write_units(plans, args.out, args.secrets_file)
    for path in paths:
        print(f"wrote {path}")
    print(enable_hint(paths))
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.launch_handler(args)
    except (ConfigError, LaunchPlanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


def _leaf(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--cluster", type=Path, required=True, help="cluster YAML file")
    parser.set_defaults(handler=_run)
    return parser


def add_launch_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `mpr launch plan|worker|status|wait|systemd`."""
    group = commands.add_parser("launch", help="vLLM workers from the cluster file")
    sub = group.add_subparsers(dest="launch_command", required=True, metavar="ACTION")

    plan = _leaf(sub, "plan", "print the exact vLLM argv and environment per worker")
    plan.add_argument("--node", help="only this node (default: every node)")
    plan.set_defaults(launch_handler=_plan)

    worker = _leaf(sub, "worker", "run this node's vLLM servers until SIGINT/SIGTERM")
    worker.add_argument("--node", required=True)
    worker.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for readiness")
    worker.add_argument("--skip-validation", action="store_true", help="start without checking the adapters first")
    worker.set_defaults(launch_handler=_worker)

    status = _leaf(sub, "status", "probe each worker endpoint: health, models, latency")
    status.add_argument("--node", help="only this node's workers")
    status.add_argument("--timeout", type=float, default=3.0, help="per-request timeout in seconds")
    status.set_defaults(launch_handler=_status)

    wait = _leaf(sub, "wait", "wait until a node's workers are healthy, list their adapters and answer (warm)")
    wait.add_argument("--node", required=True)
    wait.add_argument("--timeout", type=float, default=600.0, help="seconds to wait in all")
    wait.set_defaults(launch_handler=_wait)

    systemd = _leaf(sub, "systemd", "write one systemd .service unit per worker of a node")
    systemd.add_argument("--node", required=True)
    systemd.add_argument("--out", type=Path, required=True, help="output folder")
    systemd.add_argument("--secrets-file", default=SECRETS_FILE,
                         help="EnvironmentFile= holding VLLM_API_KEY")  # fmt: skip
    systemd.set_defaults(launch_handler=_systemd)
