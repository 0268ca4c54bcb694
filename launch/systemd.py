"""systemd unit files for a node's vLLM servers, built from the same plans `mpr launch worker` runs."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from launch.plan import API_KEY_VAR, ServerPlan

SECRETS_FILE = "/etc/mpr-gateway/worker.env"


@dataclass(frozen=True)
class UnitFile:
    """One `.service` file: its name and text."""

    name: str
    text: str


def _quote_env(key: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'Environment="{key}={escaped}"'


def _exec_start(argv: tuple[str, ...]) -> str:
    # systemd splits ExecStart like a shell would for quotes; `%` must be doubled and `$` escaped.
    quoted = [shlex.quote(arg).replace("%", "%%").replace("$", "$$") for arg in argv]
    return " \\\n    ".join(quoted)


def unit_for(plan: ServerPlan, secrets_file: str = SECRETS_FILE) -> UnitFile:
    """The unit for one server; the API key comes from `EnvironmentFile=`, never from the unit itself."""
    lines = [
        "[Unit]",
        f"Description=mpr-gateway vLLM worker {plan.worker} ({plan.served_model})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={plan.cwd}",
    ]
    lines += [_quote_env(key, value) for key, value in sorted(plan.env.items()) if key != API_KEY_VAR]
    if plan.api_key_env is not None or plan.api_key is not None:
        lines.append(f"# {secrets_file} must hold {API_KEY_VAR}=<the value of {plan.api_key_env or 'the key'}>")
        lines.append(f"EnvironmentFile={secrets_file}")
    lines += [
        f"ExecStart={_exec_start(plan.argv)}",
        "KillMode=control-group",
        "TimeoutStopSec=30",
        "Restart=on-failure",
        "RestartSec=10",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return UnitFile(f"mpr-worker-{plan.worker}.service", "\n".join(lines))


def write_units(plans: list[ServerPlan], out_dir: Path, secrets_file: str = SECRETS_FILE) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for plan in plans:
        unit = unit_for(plan, secrets_file)
        path = out_dir / unit.name
        path.write_text(unit.text, encoding="utf-8")
        written.append(path)
    return written


def enable_hint(paths: list[Path]) -> str:
    names = " ".join(p.name for p in paths)
    return (
        f"install: sudo cp {' '.join(str(p) for p in paths)} /etc/systemd/system/ && "
        f"sudo systemctl daemon-reload && sudo systemctl enable --now {names}"
    )
