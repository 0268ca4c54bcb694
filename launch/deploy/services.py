"""How a node's services run (pure): a supervisord file where there is no systemd, a systemd unit for the gateway."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from launch.deploy.topology import NodeDeployment

WORKERS_PROGRAM = "mpr-workers"
GATEWAY_PROGRAM = "mpr-gateway"
GATEWAY_UNIT = "mpr-gateway.service"


@dataclass(frozen=True)
class NodePaths:
    """Where things live on a node; all under its install_dir and MPR_HOME."""

    install_dir: str
    mpr_home: str

    @property
    def venv(self) -> str:
        return f"{self.install_dir}/venv"

    @property
    def mpr(self) -> str:
        return f"{self.venv}/bin/mpr"

    @property
    def cluster_file(self) -> str:
        return f"{self.install_dir}/config/cluster.yaml"

    @property
    def secrets_file(self) -> str:
        return f"{self.mpr_home}/secrets.env"

    @property
    def supervisor_conf(self) -> str:
        return f"{self.mpr_home}/supervisord.conf"

    @property
    def logs(self) -> str:
        return f"{self.mpr_home}/logs"


def paths_of(plan: NodeDeployment) -> NodePaths:
    return NodePaths(plan.node.install_dir, plan.node.mpr_home)


def service_env(plan: NodeDeployment) -> dict[str, str]:
    """The environment every mpr process on the node gets (no secret: those are in the secrets file)."""
    paths = paths_of(plan)
    env = {"MPR_HOME": paths.mpr_home, "MPR_SECRETS_FILE": paths.secrets_file}
    if plan.node.engine_venv:
        env["MPR_ENGINE_VENV"] = plan.node.engine_venv
    return env


def worker_command(plan: NodeDeployment) -> list[str]:
    return [paths_of(plan).mpr, "launch", "worker", "--cluster", paths_of(plan).cluster_file, "--node", plan.name]


def gateway_command(plan: NodeDeployment) -> list[str]:
    return [paths_of(plan).mpr, "serve", "--config", paths_of(plan).cluster_file]


def _ini(text: str) -> str:
    # supervisord expands %(name)s in its file: a literal % is doubled.
    return text.replace("%", "%%")


def _program(name: str, argv: list[str], plan: NodeDeployment) -> list[str]:
    paths = paths_of(plan)
    env = ",".join(f'{key}="{value}"' for key, value in service_env(plan).items())
    return [
        f"[program:{name}]",
        f"command={_ini(shlex.join(argv))}",
        f"environment={_ini(env)}",
        f"directory={_ini(paths.mpr_home)}",
        "autostart=true",
        # Restarted whenever it exits; a process that dies within startsecs counts as a failed start, and
        # supervisord backs off (1 s, 2 s, 3 s, ...) for up to startretries attempts before giving up (FATAL).
        "autorestart=true",
        "startsecs=5",
        "startretries=10",
        "stopsignal=TERM",
        # `mpr launch worker` stops its vLLM servers on SIGTERM (engine shutdown takes a while).
        "stopwaitsecs=60",
        "redirect_stderr=true",
        f"stdout_logfile={_ini(paths.logs)}/{name}.log",
        "stdout_logfile_maxbytes=20MB",
        "stdout_logfile_backups=3",
        "",
    ]


def supervisor_conf(plan: NodeDeployment) -> str:
    """supervisord's file for the node: its socket, pid file and log under MPR_HOME, one program per service."""
    paths = paths_of(plan)
    home = _ini(paths.mpr_home)
    lines = [
        "; Written by `mpr deploy`; supervisord runs the node's services where there is no systemd.",
        "[unix_http_server]",
        f"file={home}/supervisor.sock",
        "chmod=0700",
        "",
        "[supervisord]",
        f"pidfile={home}/supervisord.pid",
        f"logfile={home}/logs/supervisord.log",
        f"directory={home}",
        f"childlogdir={home}/logs",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{home}/supervisor.sock",
        "",
    ]
    if plan.workers:
        lines += _program(WORKERS_PROGRAM, worker_command(plan), plan)
    if plan.is_gateway:
        lines += _program(GATEWAY_PROGRAM, gateway_command(plan), plan)
    return "\n".join(lines)


def programs(plan: NodeDeployment) -> list[str]:
    return ([WORKERS_PROGRAM] if plan.workers else []) + ([GATEWAY_PROGRAM] if plan.is_gateway else [])


def worker_units(plan: NodeDeployment) -> list[str]:
    """The unit names `mpr launch systemd` writes for the node's workers."""
    return [f"mpr-worker-{name}.service" for name in plan.workers]


def gateway_unit(plan: NodeDeployment) -> str:
    """The gateway's systemd unit (the workers' units come from `mpr launch systemd` on the node)."""
    paths = paths_of(plan)
    quoted = [shlex.quote(a).replace("%", "%%").replace("$", "$$") for a in gateway_command(plan)]
    env = [f'Environment="{k}={v}"' for k, v in service_env(plan).items()]
    return "\n".join(
        [
            "[Unit]",
            "Description=mpr-gateway (refinement gateway)",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            f"WorkingDirectory={paths.mpr_home}",
            *env,
            f"ExecStart={' '.join(quoted)}",
            "Restart=on-failure",
            "RestartSec=5",
            "TimeoutStopSec=30",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
