"""Writes the inventory and playbooks to a folder and runs `ansible-playbook` on them (an argument list, no shell)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.environment import process_environ
from launch.deploy.playbook import Play, deploy_playbook, logs_playbook, status_playbook, stop_playbook
from launch.deploy.topology import DeployError

ANSIBLE_CFG = """\
# Written by `mpr deploy`. Host keys are verified by the ssh client (its config and known_hosts); never disabled.
[defaults]
inventory = inventory.yml
host_key_checking = True
interpreter_python = auto_silent
retry_files_enabled = False
forks = 16
nocolor = True

[ssh_connection]
pipelining = True
"""
PLAYBOOKS = ("deploy.yml", "status.yml", "logs.yml", "stop.yml")


@dataclass(frozen=True)
class RunOutput:
    """What ansible-playbook printed and how it exited."""

    returncode: int
    lines: list[str]


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1000, default_flow_style=False)


def write_ansible_dir(out: Path, inventory: Mapping[str, Any], rolling: bool, log_lines: int = 100) -> None:
    """inventory.yml, the four playbooks and an ansible.cfg, ready for `ansible-playbook` (or a team's own use)."""
    out.mkdir(parents=True, exist_ok=True)
    books: dict[str, list[Play]] = {
        "deploy.yml": deploy_playbook(rolling),
        "status.yml": status_playbook(),
        "logs.yml": logs_playbook(log_lines),
        "stop.yml": stop_playbook(),
    }
    (out / "ansible.cfg").write_text(ANSIBLE_CFG, encoding="utf-8")
    (out / "inventory.yml").write_text(_dump(dict(inventory)), encoding="utf-8")
    for name, plays in books.items():
        (out / name).write_text(_dump(plays), encoding="utf-8")


def ansible_playbook() -> str:
    """The ansible-playbook next to this interpreter (the `deploy` extra), else on PATH."""
    beside = Path(sys.executable).with_name("ansible-playbook")
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if found is None:
        raise DeployError("ansible-playbook not found: install the deploy extra (pip install 'mpr-gateway[deploy]')")
    return found


@contextmanager
def secrets_vars(values: Mapping[str, str]) -> Iterator[Path]:
    """The secrets as an extra-vars file in a private temporary folder (0600), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="mpr-deploy-"))
    path = folder / "secrets.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"mpr_secrets": dict(values)}, handle)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def playbook_argv(
    ansible_dir: Path, playbook: str, *, limit: list[str], check: bool, extra_vars: Path | None
) -> list[str]:
    argv = [ansible_playbook(), "-i", str(ansible_dir / "inventory.yml"), str(ansible_dir / playbook)]
    if limit:
        argv += ["--limit", ",".join(limit)]
    if check:
        argv += ["--check", "--diff"]
    if extra_vars is not None:
        argv += ["--extra-vars", f"@{extra_vars}"]
    return argv


def run_playbook(argv: list[str], ansible_dir: Path, echo: bool = True) -> RunOutput:
    """Run it with the folder's ansible.cfg, echoing its output line by line as it comes."""
    env = {**process_environ(), "ANSIBLE_CONFIG": str(ansible_dir / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    lines: list[str] = []
    started = time.monotonic()
    with subprocess.Popen(
        argv,
        cwd=ansible_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if echo:
                # Each task's start time, so a slow step shows (ansible-core has no timing callback of its own).
                stamp = f"[{time.monotonic() - started:6.1f}s] " if line.startswith(("TASK [", "PLAY [")) else ""
                sys.stdout.write(stamp + line)
                sys.stdout.flush()
    return RunOutput(process.returncode, lines)


def read_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """`{node}-{play}.json` files the playbook's report tasks wrote, keyed by that stem."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            out[path.stem] = data
    return out
