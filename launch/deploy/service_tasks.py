"""The service tasks (pure data): start or restart under systemd or supervisord, drain, wait, check and report."""

from __future__ import annotations

from launch.deploy.tasks import Task

SUPERVISORCTL = ["{{ mpr_venv }}/bin/supervisorctl", "-c", "{{ mpr_supervisor_conf_path }}"]
_ADMIN = "http://127.0.0.1:{{ mpr_gateway_port }}/admin/endpoints"
USES_SYSTEMD = "mpr_services == 'systemd' or (mpr_services == 'auto' and mpr_systemd_dir.stat.exists)"
UNITS = "mpr_worker_units + (['mpr-gateway.service'] if inventory_hostname == mpr_gateway_host else [])"
# What changed on the node since the services last started: any of it restarts them.
RESTART = (
    "(mpr_code is changed) or (mpr_config is changed) or (mpr_adapters_sync | default({}) is changed)"
    " or (mpr_secrets_written is changed) or (mpr_knowledge_sync | default({}) is changed)"
)


def systemd_detect_tasks() -> list[Task]:
    return [
        {
            "name": "does the node run systemd",
            "ansible.builtin.stat": {"path": "/run/systemd/system"},
            "register": "mpr_systemd_dir",
        },
        {
            "name": "service manager",
            "ansible.builtin.set_fact": {
                "mpr_use_systemd": "{{ " + USES_SYSTEMD + " }}",
                "mpr_restart": "{{ " + RESTART + " }}",
            },
        },
    ]


def _supervisor_tasks(program: str) -> list[Task]:
    running = "mpr_sv_pid.rc == 0 and (mpr_sv_pid.stdout | trim) is match('^[0-9]+$')"
    return [
        {
            "name": "supervisord file",
            "no_log": False,
            "ansible.builtin.copy": {
                "content": "{{ mpr_supervisor_conf }}",
                "dest": "{{ mpr_supervisor_conf_path }}",
                "mode": "0600",
            },
            "register": "mpr_sv_conf",
        },
        {
            "name": "is supervisord running",
            "ansible.builtin.command": {"argv": [*SUPERVISORCTL, "pid"]},
            "register": "mpr_sv_pid",
            "changed_when": False,
            "failed_when": False,
            "check_mode": False,
        },
        {
            "name": "start supervisord (it starts the services and restarts them when they exit)",
            "when": f"not ({running})",
            "ansible.builtin.command": {
                "argv": ["{{ mpr_venv }}/bin/supervisord", "-c", "{{ mpr_supervisor_conf_path }}"]
            },
            "environment": "{{ mpr_env }}",
        },
        {
            "name": "apply a changed supervisord file (restarts the programs it changed)",
            "when": f"({running}) and mpr_sv_conf is changed",
            "ansible.builtin.command": {"argv": [*SUPERVISORCTL, "update"]},
        },
        {
            "name": f"restart {program} (code, config or adapters changed)",
            "when": f"({running}) and mpr_sv_conf is not changed and mpr_restart",
            "ansible.builtin.command": {"argv": [*SUPERVISORCTL, "restart", program]},
        },
    ]


def _systemd_worker_tasks() -> list[Task]:
    return [
        {
            "name": "worker units (mpr launch systemd)",
            "environment": "{{ mpr_env }}",
            "ansible.builtin.command": {
                "argv": [
                    "{{ mpr_bin }}",
                    "launch",
                    "systemd",
                    "--cluster",
                    "{{ mpr_cluster_file }}",
                    "--node",
                    "{{ mpr_node }}",
                    "--out",
                    "/etc/systemd/system",
                    "--secrets-file",
                    "{{ mpr_secrets_file }}",
                ],
            },
            "changed_when": False,
        },
        {
            "name": "worker units enabled and running",
            "ansible.builtin.systemd_service": {
                "name": "{{ item }}",
                "enabled": True,
                "daemon_reload": True,
                "state": "{{ 'restarted' if mpr_restart else 'started' }}",
            },
            "loop": "{{ mpr_worker_units }}",
        },
    ]


def _systemd_gateway_tasks() -> list[Task]:
    return [
        {
            "name": "gateway unit",
            "ansible.builtin.copy": {
                "content": "{{ mpr_gateway_unit }}",
                "dest": "/etc/systemd/system/mpr-gateway.service",
                "mode": "0644",
            },
            "register": "mpr_gateway_unit_file",
        },
        {
            "name": "gateway unit enabled and running",
            "ansible.builtin.systemd_service": {
                "name": "mpr-gateway.service",
                "enabled": True,
                "daemon_reload": True,
                "state": "{{ 'restarted' if (mpr_restart or mpr_gateway_unit_file is changed) else 'started' }}",
            },
        },
    ]


def _drain(action: str) -> Task:
    return {
        "name": f"{action} this node's endpoints at the gateway",
        "when": "mpr_rolling and mpr_restart and mpr_gateway_host | length > 0",
        "delegate_to": "{{ mpr_gateway_host }}",
        "ansible.builtin.uri": {
            "url": f"{_ADMIN}/{{{{ item }}}}/{action}",
            "method": "POST",
            "headers": "{{ mpr_admin_headers }}",
            "status_code": 200,
        },
        "loop": "{{ mpr_workers }}",
        "no_log": "{{ mpr_admin_headers | length > 0 }}",
        "register": f"mpr_{action}",
        "failed_when": False,
    }


def _wait_drained() -> Task:
    inflight = "mpr_workers | map('extract', mpr_endpoints.json.endpoints) | map(attribute='inflight') | sum"
    return {
        "name": "in-flight calls to this node finished",
        "when": "mpr_rolling and mpr_restart and mpr_gateway_host | length > 0"
        " and mpr_drain.results | selectattr('status', 'equalto', 200) | list | length > 0",
        "delegate_to": "{{ mpr_gateway_host }}",
        "ansible.builtin.uri": {"url": _ADMIN, "headers": "{{ mpr_admin_headers }}"},
        "register": "mpr_endpoints",
        "until": f"mpr_endpoints.status == 200 and ({inflight}) == 0",
        "retries": 60,
        "delay": 1,
        "no_log": "{{ mpr_admin_headers | length > 0 }}",
    }


def worker_service_tasks() -> list[Task]:
    """Drain (rolling), (re)start, wait until healthy and warm, resume."""
    wait = {
        "name": "workers healthy, adapters listed, warm (mpr launch wait)",
        "when": "not ansible_check_mode",
        "environment": "{{ mpr_env }}",
        "ansible.builtin.command": {
            "argv": [
                "{{ mpr_bin }}",
                "launch",
                "wait",
                "--cluster",
                "{{ mpr_cluster_file }}",
                "--node",
                "{{ mpr_node }}",
                "--timeout",
                "{{ mpr_wait_timeout }}",
            ],
        },
        "register": "mpr_wait",
        "changed_when": False,
    }
    restart = [
        {"name": "supervisord", "when": "not mpr_use_systemd", "block": _supervisor_tasks("mpr-workers")},
        {"name": "systemd", "when": "mpr_use_systemd", "block": _systemd_worker_tasks()},
        wait,
    ]
    return [
        _drain("drain"),
        _wait_drained(),
        {"name": "worker services", "block": restart, "always": [_drain("resume")]},
    ]


def gateway_service_tasks() -> list[Task]:
    """(Re)start the gateway, wait for /health, read /ready."""
    return [
        {"name": "supervisord", "when": "not mpr_use_systemd", "block": _supervisor_tasks("mpr-gateway")},
        {"name": "systemd", "when": "mpr_use_systemd", "block": _systemd_gateway_tasks()},
        {
            "name": "gateway /health",
            "when": "not ansible_check_mode",
            "ansible.builtin.uri": {"url": "http://127.0.0.1:{{ mpr_gateway_port }}/health"},
            "register": "mpr_gateway_health",
            "until": "mpr_gateway_health.status == 200",
            "retries": 120,
            "delay": 1,
        },
        {
            "name": "gateway /ready",
            "when": "not ansible_check_mode",
            "ansible.builtin.uri": {"url": "http://127.0.0.1:{{ mpr_gateway_port }}/ready", "status_code": [200, 503]},
            "register": "mpr_gateway_ready",
            # Every endpoint probed ok, not only one per stage: the check below must see the primaries in routing
            # (a backup that answered first would make it pass for the wrong reason).
            "until": "mpr_gateway_ready.status == 200 and (mpr_gateway_ready.json.endpoints | dict2items"
            " | rejectattr('value.probe_ok', 'true') | list | length) == 0",
            "retries": 30,
            "delay": 1,
            "failed_when": False,
        },
    ]


def check_task() -> Task:
    """The deployment guide's end-to-end check, from the gateway node: `/refine` of its example prompt."""
    return {
        "name": "end-to-end check: /refine of the guide's example prompt",
        "when": "not ansible_check_mode",
        "ansible.builtin.uri": {
            "url": "http://127.0.0.1:{{ mpr_gateway_port }}/refine",
            "method": "POST",
            "body_format": "json",
            "body": {"prompt": "{{ mpr_check_prompt }}", "run_id": "mpr-deploy-check"},
            "headers": "{{ mpr_admin_headers }}",
            "timeout": 120,
        },
        "no_log": "{{ mpr_admin_headers | length > 0 }}",
        "register": "mpr_check",
        "failed_when": "mpr_check.status != 200",
    }


REPORT_FIELDS = {
    "node": "inventory_hostname",
    "adapters_before": "mpr_adapters_before.results | default([]) | map(attribute='stdout', default='') | list",
    "adapters_sync": "mpr_adapters_sync.results | default([]) | map(attribute='stdout', default='') | list",
    "adapter_names": "mpr_adapters | map(attribute='name') | list",
    "knowledge_sync": "mpr_knowledge_sync.results | default([]) | map(attribute='stdout', default='') | list",
    "code_installed": "mpr_code is changed",
    "restarted": "mpr_restart | default(false)",
    "service_manager": "'systemd' if mpr_use_systemd | default(false) else 'supervisord'",
    "validate": "mpr_validate.stdout | default('')",
    "wait": "mpr_wait.rc | default(none)",
    "drained": "mpr_drain.results | default([]) | selectattr('status', 'defined') | map(attribute='status') | list",
    "gateway_health": "mpr_gateway_health.status | default(none)",
    "gateway_ready": "mpr_gateway_ready.json | default(none)",
    "check_status": "mpr_check.status | default(none)",
    "check": "mpr_check.json | default(none)",
}


def report_task() -> Task:
    """The node's results as JSON on the controller (read back for the summary table)."""
    fields = ", ".join(f"'{key}': ({expr})" for key, expr in REPORT_FIELDS.items())
    return {
        "name": "report",
        "delegate_to": "localhost",
        "check_mode": False,
        "ansible.builtin.copy": {
            "content": "{{ {" + fields + "} | to_nice_json }}",
            "dest": "{{ mpr_results }}/{{ inventory_hostname }}-{{ mpr_play }}.json",
        },
    }
