"""The Ansible inventory for a deployment (pure): one host per node, with everything its tasks need as host vars."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.nodes import NodeConfig
from launch.deploy.services import gateway_unit, paths_of, programs, service_env, supervisor_conf, worker_units
from launch.deploy.topology import NodeDeployment
from launch.deploy.transfer_progress import PROGRESS_FOLDER

WORKERS_GROUP = "mpr_workers"
GATEWAY_GROUP = "mpr_gateway"
CHECK_PROMPT = "what is the captial of frane?"
# The gateway's admin and check calls carry a client key when the gateway has auth on (from the secrets file).
ADMIN_KEY = "mpr_admin_key"
ADMIN_HEADERS = (
    "{{ {'Authorization': 'Bearer ' + mpr_secrets['" + ADMIN_KEY + "']} if mpr_secrets['" + ADMIN_KEY + "'] "
    "| default('') else {} }}"
)


@dataclass(frozen=True)
class DeployOptions:
    """The controller side of one run: where the bundle and results are, and the command line's switches."""

    bundle_dir: Path
    wheel_name: str
    wheel_sha256: str
    results_dir: Path
    ssh_config: Path | None = None
    push_base: bool = False
    rolling: bool = False
    gateway_port: int = 8000
    wait_timeout_s: float = 900.0
    check_prompt: str = CHECK_PROMPT
    # The controller's python: the playbook's rsync tasks run here, under launch.deploy.transfer_progress.
    controller_python: str = "python3"


def ssh_options(node: NodeConfig, ssh_config: Path | None) -> list[str]:
    """The ssh client arguments besides host, user, port and key: the config file and the node's -o settings."""
    args = ["-F", str(ssh_config)] if ssh_config is not None else []
    for key, value in node.ssh_options.items():
        args += ["-o", f"{key}={value}"]
    return args


def ssh_command(node: NodeConfig, ssh_config: Path | None) -> list[str]:
    """The full ssh client command rsync runs (`-e`): user, port and identity included."""
    argv = ["ssh", *ssh_options(node, ssh_config)]
    if node.port is not None:
        argv += ["-p", str(node.port)]
    if node.user is not None:
        argv += ["-l", node.user]
    if node.identity_file is not None:
        argv += ["-i", node.identity_file, "-o", "IdentitiesOnly=yes"]
    return argv


def _connection_vars(plan: NodeDeployment, ssh_config: Path | None) -> dict[str, Any]:
    node = plan.node
    out: dict[str, Any] = {"ansible_host": node.host or plan.name}
    if node.user is not None:
        out["ansible_user"] = node.user
    if node.port is not None:
        out["ansible_port"] = node.port
    if node.identity_file is not None:
        out["ansible_ssh_private_key_file"] = node.identity_file
    common = ssh_options(node, ssh_config)
    if common:
        out["ansible_ssh_common_args"] = shlex.join(common)
    return out


def _secrets_file_text(plan: NodeDeployment) -> str:
    """The node's secrets file as a template: values come from the `mpr_secrets` extra var, never the inventory."""
    names = list(plan.secrets)
    lines = [f"{name}=\"{{{{ mpr_secrets['{name}'] | default('') }}}}\"" for name in names]
    if plan.workers and names:
        # The systemd units of `mpr launch systemd` read the worker key as VLLM_API_KEY.
        lines.append(f"VLLM_API_KEY=\"{{{{ mpr_secrets['{names[0]}'] | default('') }}}}\"")
    return "\n".join(lines) + "\n"


def host_vars(plan: NodeDeployment, options: DeployOptions) -> dict[str, Any]:
    paths = paths_of(plan)
    return {
        **_connection_vars(plan, options.ssh_config),
        "mpr_node": plan.name,
        "mpr_install_dir": paths.install_dir,
        "mpr_home": paths.mpr_home,
        "mpr_python": plan.node.python,
        "mpr_venv": paths.venv,
        "mpr_bin": paths.mpr,
        "mpr_cluster_file": paths.cluster_file,
        "mpr_secrets_file": paths.secrets_file,
        "mpr_secrets_text": _secrets_file_text(plan),
        "mpr_env": service_env(plan),
        "mpr_services": plan.node.services,
        "mpr_engine": plan.engine,
        "mpr_engine_venv": plan.node.engine_venv or "",
        "mpr_cuda": plan.cuda,
        "mpr_workers": list(plan.workers),
        "mpr_worker_units": worker_units(plan),
        "mpr_programs": programs(plan),
        "mpr_supervisor_conf_path": paths.supervisor_conf,
        "mpr_supervisor_conf": supervisor_conf(plan),
        "mpr_gateway_unit": gateway_unit(plan) if plan.is_gateway else "",
        "mpr_rsync_ssh": shlex.join(ssh_command(plan.node, options.ssh_config)),
        "mpr_rsync_host": plan.node.host or plan.name,
        "mpr_adapters": [
            {
                "name": a.name,
                "src": a.source,
                "dest": a.dest,
                "sums": "".join(f"{d}  {p}\n" for p, d in a.sha256.items()),
            }
            for a in plan.adapters
        ],
        "mpr_bases": [{"name": b.name, "src": b.source, "dest": b.dest} for b in plan.bases],
        "mpr_knowledge": [
            {"name": k.name, "src": k.source, "dest": k.dest} for k in ([plan.knowledge] if plan.knowledge else [])
        ],
    }


def render_inventory(plans: list[NodeDeployment], options: DeployOptions) -> dict[str, Any]:
    """Inventory YAML as data: group `mpr_workers` (nodes with workers), `mpr_gateway` (the gateway's node)."""
    gateway = [p.name for p in plans if p.is_gateway]
    all_vars = {
        # Ansible's modules run on the node's system python (not whatever a login shell's PATH finds first).
        "ansible_python_interpreter": "/usr/bin/python3",
        "mpr_bundle": str(options.bundle_dir),
        "mpr_wheel": options.wheel_name,
        "mpr_wheel_sha256": options.wheel_sha256,
        "mpr_results": str(options.results_dir),
        "mpr_controller_python": options.controller_python,
        "mpr_progress": str(options.results_dir / PROGRESS_FOLDER),
        "mpr_push_base": options.push_base,
        "mpr_rolling": options.rolling,
        "mpr_gateway_host": gateway[0] if gateway else "",
        "mpr_gateway_port": options.gateway_port,
        "mpr_wait_timeout": int(options.wait_timeout_s),
        "mpr_check_prompt": options.check_prompt,
        # Overridden by the run's extra-vars file; the inventory never holds a secret.
        "mpr_secrets": {},
        "mpr_admin_headers": ADMIN_HEADERS,
    }
    return {
        "all": {
            "vars": all_vars,
            "hosts": {p.name: host_vars(p, options) for p in plans},
            "children": {
                WORKERS_GROUP: {"hosts": {p.name: None for p in plans if p.workers}},
                GATEWAY_GROUP: {"hosts": {p.name: None for p in plans if p.is_gateway}},
            },
        }
    }
