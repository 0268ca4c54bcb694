"""The playbooks (pure data): deploy (workers, then the gateway node last), status, logs and stop."""

from __future__ import annotations

from typing import Any

from launch.deploy.inventory import GATEWAY_GROUP, WORKERS_GROUP
from launch.deploy.service_tasks import (
    SUPERVISORCTL,
    UNITS,
    USES_SYSTEMD,
    check_task,
    gateway_service_tasks,
    report_task,
    systemd_detect_tasks,
    worker_service_tasks,
)
from launch.deploy.tasks import Task, adapter_tasks, base_tasks, engine_tasks, install_tasks, knowledge_tasks

Play = dict[str, Any]


def _play(name: str, hosts: str, tag: str, tasks: list[Task], serial: int | None = None) -> Play:
    play: Play = {
        "name": name,
        "hosts": hosts,
        "gather_facts": False,
        "vars": {"mpr_play": tag},
        "tasks": tasks,
    }
    if serial is not None:
        play["serial"] = serial
    return play


def deploy_playbook(rolling: bool) -> list[Play]:
    """Every node prepared in parallel; worker nodes started (one at a time with `rolling`); the gateway node last."""
    workers = [*engine_tasks(), *adapter_tasks(), *base_tasks(), *systemd_detect_tasks(), *worker_service_tasks(),
               report_task()]  # fmt: skip
    gateway = [*knowledge_tasks(), *systemd_detect_tasks(), *gateway_service_tasks(), check_task(), report_task()]
    return [
        _play("install on every node", f"{WORKERS_GROUP}:{GATEWAY_GROUP}", "install", install_tasks()),
        _play("worker nodes", WORKERS_GROUP, "workers", workers, serial=1 if rolling else None),
        _play("gateway node", GATEWAY_GROUP, "gateway", gateway),
    ]


def _service_state_tasks() -> list[Task]:
    return [
        *systemd_detect_tasks()[:1],
        {
            "name": "services (supervisord)",
            "when": "not (" + USES_SYSTEMD + ")",
            "ansible.builtin.command": {"argv": [*SUPERVISORCTL, "status"]},
            # Two names: a skipped task still registers its variable, and would hide the other's output.
            "register": "mpr_state_supervisord",
            "changed_when": False,
            "failed_when": False,
        },
        {
            "name": "services (systemd)",
            "when": USES_SYSTEMD,
            "ansible.builtin.command": {"argv": "{{ ['systemctl', 'is-active'] + " + UNITS + " }}"},
            "register": "mpr_state_systemd",
            "changed_when": False,
            "failed_when": False,
        },
    ]


def status_playbook() -> list[Play]:
    """Per node: what the service manager says, and each worker's endpoint probed from the node itself."""
    probe = {
        "name": "worker endpoints (mpr launch status)",
        "when": "mpr_workers | length > 0",
        "environment": "{{ mpr_env }}",
        "ansible.builtin.command": {
            "argv": [
                "{{ mpr_bin }}",
                "launch",
                "status",
                "--cluster",
                "{{ mpr_cluster_file }}",
                "--node",
                "{{ mpr_node }}",
            ]
        },
        "register": "mpr_probe",
        "changed_when": False,
        "failed_when": False,
    }
    report = {
        "name": "report",
        "delegate_to": "localhost",
        "ansible.builtin.copy": {
            "content": "{{ {'node': inventory_hostname, 'services': (mpr_state_supervisord.stdout | default(''))"
            " + (mpr_state_systemd.stdout | default('')),"
            " 'endpoints': mpr_probe.stdout | default('')} | to_nice_json }}",
            "dest": "{{ mpr_results }}/{{ inventory_hostname }}-status.json",
        },
    }
    return [_play("status", "all", "status", [*_service_state_tasks(), probe, report])]


def logs_playbook(lines: int) -> list[Play]:
    """The last lines of every log under the node's MPR_HOME/logs."""
    return [
        _play(
            "logs",
            "all",
            "logs",
            [
                {
                    "name": "log files",
                    "ansible.builtin.find": {"paths": "{{ mpr_home }}/logs", "patterns": "*.log"},
                    "register": "mpr_logs",
                },
                {
                    "name": "tail",
                    "when": "mpr_logs.files | length > 0",
                    "ansible.builtin.command": {
                        "argv": "{{ ['tail', '-n', '"
                        + str(lines)
                        + "'] + (mpr_logs.files | map(attribute='path') | sort) }}"
                    },
                    "register": "mpr_tail",
                    "changed_when": False,
                },
                {
                    "name": "show",
                    "ansible.builtin.debug": {"msg": "{{ mpr_tail.stdout_lines | default(['(no logs)']) }}"},
                },
            ],
        )
    ]


def _supervisord_stop_tasks() -> list[Task]:
    # `supervisorctl shutdown` only asks supervisord to stop and returns at once, while a vLLM engine takes seconds
    # to shut down: `stop all` returns when every program has exited (or was killed after its stopwaitsecs), and the
    # play waits for supervisord itself to remove its pid file, so `mpr deploy stop` returns with nothing running.
    when = "not (" + USES_SYSTEMD + ")"
    return [
        {
            "name": "stop the programs (supervisord)",
            "when": when,
            "ansible.builtin.command": {"argv": [*SUPERVISORCTL, "stop", "all"]},
            "register": "mpr_stop_programs",
            "failed_when": False,
        },
        {
            "name": "stop supervisord",
            "when": when,
            "ansible.builtin.command": {"argv": [*SUPERVISORCTL, "shutdown"]},
            "register": "mpr_stop",
            "failed_when": False,
        },
        {
            "name": "wait until supervisord has exited",
            "when": when + " and mpr_stop.rc == 0",
            "ansible.builtin.wait_for": {"path": "{{ mpr_home }}/supervisord.pid", "state": "absent", "timeout": 120},
        },
    ]


def stop_playbook() -> list[Play]:
    """Stop every service: supervisord with its programs, or the systemd units."""
    return [
        _play(
            "stop",
            "all",
            "stop",
            [
                *systemd_detect_tasks()[:1],
                *_supervisord_stop_tasks(),
                {
                    "name": "stop the systemd units",
                    "when": USES_SYSTEMD,
                    "ansible.builtin.systemd_service": {"name": "{{ item }}", "state": "stopped"},
                    "loop": "{{ " + UNITS + " }}",
                },
            ],
        )
    ]
