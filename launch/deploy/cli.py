"""`mpr deploy [status | logs NODE | stop]`: the cluster file's nodes over SSH, through ansible-playbook."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.checksums import ChecksumError, folder_sha256
from adapters.progress import Progress
from config.cluster import Cluster
from config.environment import MprEnvironment, read_env_var
from config.loading import ConfigError, load_cluster
from launch.deploy.bundle import build_bundle
from launch.deploy.inventory import ADMIN_KEY, DeployOptions, render_inventory
from launch.deploy.runner import playbook_argv, read_results, run_playbook, secrets_vars, write_ansible_dir
from launch.deploy.summary import build_rows, render_rows
from launch.deploy.topology import DeployError, NodeDeployment, check_nodes, plan_deployment, served_adapters
from launch.deploy.transfer_progress import PROGRESS_FOLDER, ProgressWatcher


@dataclass(frozen=True)
class _Prepared:
    cluster: Cluster
    plans: list[NodeDeployment]
    work: Path


def _plans(args: argparse.Namespace, hashed: bool) -> tuple[Cluster, list[NodeDeployment]]:
    cluster = load_cluster(args.cluster, MprEnvironment(), require_secrets=False)
    check_nodes(cluster, args.node)
    on_node = {
        name: load_cluster(args.cluster, MprEnvironment(home=Path(node.mpr_home)), require_secrets=False)
        for name, node in cluster.nodes.items()
    }
    adapters = served_adapters(cluster)
    digests = {a: folder_sha256(Path(cluster.adapters[a].path)) if hashed else {} for a in adapters}
    plans = plan_deployment(cluster, on_node, digests)
    for plan in plans:
        if hashed and plan.knowledge is not None and not Path(plan.knowledge.source).is_file():
            raise DeployError(
                f"knowledge index {plan.knowledge.source} not found on this machine (the gateway node {plan.name}"
                " gets a copy): build it with `mpr knowledge build` or `mpr adapters demo`"
            )
    return cluster, plans


def _prepare(args: argparse.Namespace, progress: Progress, build: bool) -> _Prepared:
    cluster, plans = _plans(args, hashed=build)
    work = args.emit or MprEnvironment().home / "deploy"
    if build:
        bundle = build_bundle(args.cluster, work / "bundle", progress)
        wheel, digest = bundle.wheel.name, bundle.wheel_sha256
    else:
        wheel, digest = "", ""
    options = DeployOptions(
        bundle_dir=work / "bundle",
        wheel_name=wheel,
        wheel_sha256=digest,
        results_dir=work / "results",
        ssh_config=args.ssh_config,
        push_base=args.push_base,
        rolling=args.rolling,
        gateway_port=cluster.gateway.port,
        wait_timeout_s=args.wait_timeout,
        controller_python=sys.executable,
    )
    write_ansible_dir(work / "ansible", render_inventory(plans, options), args.rolling, args.lines)
    shutil.rmtree(options.results_dir, ignore_errors=True)
    options.results_dir.mkdir(parents=True)
    return _Prepared(cluster, plans, work)


def _secrets(prepared: _Prepared, required: bool) -> dict[str, str]:
    """Values of the variables the nodes need, read here; a worker or target key that is unset is an error."""
    optional = {prepared.cluster.auth.keys_env}
    values: dict[str, str] = {}
    missing = []
    for name in dict.fromkeys(n for p in prepared.plans for n in p.secrets):
        value = read_env_var(name)
        if value:
            values[name] = value
        elif name not in optional:
            missing.append(name)
    if missing and required:
        raise DeployError(f"set {', '.join(missing)} on the controller: the nodes' services need them")
    keys = prepared.cluster.auth.keys
    if keys:
        values[ADMIN_KEY] = keys[0].get_secret_value()
    return values


def _run(prepared: _Prepared, playbook: str, args: argparse.Namespace, check: bool = False) -> tuple[int, list[str]]:
    ansible_dir = prepared.work / "ansible"
    with secrets_vars(_secrets(prepared, required=not check and playbook == "deploy.yml")) as extra:
        argv = playbook_argv(ansible_dir, playbook, limit=list(args.node), check=check, extra_vars=extra)
        with ProgressWatcher(prepared.work / "results" / PROGRESS_FOLDER):
            output = run_playbook(argv, ansible_dir)
    return output.returncode, output.lines


def _deploy(args: argparse.Namespace) -> int:
    progress = Progress()
    started = time.monotonic()
    prepared = _prepare(args, progress, build=True)
    if args.emit is not None:
        print(f"wrote {args.emit}/ansible (inventory.yml, deploy.yml, status.yml, logs.yml, stop.yml, ansible.cfg)")
        print(f"run: cd {args.emit}/ansible && ansible-playbook deploy.yml  (secrets: -e mpr_secrets=...)")
        return 0
    code, lines = _run(prepared, "deploy.yml", args, check=args.dry_run)
    chosen = [p for p in prepared.plans if not args.node or p.name in args.node]
    rows = build_rows(chosen, read_results(prepared.work / "results"), lines)
    sent = sum(r.stats.literal_bytes for r in rows)
    print(f"\n{render_rows(rows)}")
    print(
        f"adapters: {sum(r.stats.files for r in rows)} file(s), {sent} bytes of file data sent;"
        f" deploy took {time.monotonic() - started:.1f}s{' (dry run)' if args.dry_run else ''}"
    )
    copies = [r.knowledge for r in rows if r.knowledge is not None]
    if copies:
        sent_index = sum(k.literal_bytes for k in copies)
        print(f"knowledge index: {sum(k.files for k in copies)} file(s), {sent_index} bytes of file data sent")
    return 1 if code != 0 or any(r.error for r in rows) else 0


def _status(args: argparse.Namespace) -> int:
    prepared = _prepare(args, Progress(), build=False)
    code, _ = _run(prepared, "status.yml", args)
    for stem, result in read_results(prepared.work / "results").items():
        print(
            f"== {stem.removesuffix('-status')}\n{result.get('services', '')}\n{result.get('endpoints', '')}".rstrip()
        )
    return code


def _logs(args: argparse.Namespace) -> int:
    if not args.target:
        print("error: mpr deploy logs NODE", file=sys.stderr)
        return 2
    args.node = [args.target]
    code, _ = _run(_prepare(args, Progress(), build=False), "logs.yml", args)
    return code


def _stop(args: argparse.Namespace) -> int:
    code, _ = _run(_prepare(args, Progress(), build=False), "stop.yml", args)
    return code


_ACTIONS = {"apply": _deploy, "status": _status, "logs": _logs, "stop": _stop}


def _handle(args: argparse.Namespace) -> int:
    try:
        return _ACTIONS[args.action](args)
    except (ConfigError, DeployError, ChecksumError) as exc:
        print(f"mpr deploy: {exc}", file=sys.stderr)
        return 2


def add_deploy_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `mpr deploy`."""
    parser = commands.add_parser(
        "deploy",
        help="deploy the cluster file's nodes over SSH (Ansible): code, adapters, services, checks",
        description="Push the project and adapters to every node of the cluster file's nodes: section, start the "
        "services (workers first, the gateway node last), wait until warm and run the end-to-end check.",
    )
    parser.add_argument("action", nargs="?", default="apply", choices=sorted(_ACTIONS), help="default: apply")
    parser.add_argument("target", nargs="?", help="the node, for `logs`")
    parser.add_argument("--cluster", type=Path, required=True, help="cluster YAML file with a nodes: section")
    parser.add_argument("--node", action="append", default=[], help="only this node (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="ansible --check: show what would change")
    parser.add_argument("--emit", type=Path, help="write the bundle, inventory and playbooks here and stop")
    parser.add_argument("--rolling", action="store_true", help="one worker node at a time, drained at the gateway")
    parser.add_argument("--push-base", action="store_true", help="copy missing base models from this machine")
    parser.add_argument("--ssh-config", type=Path, help="ssh client config file (default: ~/.ssh/config)")
    parser.add_argument("--wait-timeout", type=float, default=900.0, help="seconds for workers to become warm")
    parser.add_argument("--lines", type=int, default=100, help="log lines per file, for `logs`")
    parser.set_defaults(handler=_handle)
