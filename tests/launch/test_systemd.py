"""systemd units: ExecStart from the plan's argv, Environment= lines, the key only via EnvironmentFile=."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, load_cluster
from launch.plan import plan_node
from launch.systemd import unit_for, write_units

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "cluster.example.yaml"
LOCAL = LOCAL_CLUSTER


def _exec_argv(text: str) -> list[str]:
    start = text.index("ExecStart=") + len("ExecStart=")
    end = text.index("\nKillMode=")
    return shlex.split(text[start:end].replace("\\\n", " "))


def test_units_for_kcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPR_WORKER_API_KEY", "very-secret")
    env = MprEnvironment(home=tmp_path / "home")
    plans = plan_node(load_cluster(EXAMPLE, env), "kcloud", env, "/opt/venv/bin/python")
    paths = write_units(plans, tmp_path / "units")
    assert [p.name for p in paths] == ["mpr-worker-kcloud-3b.service", "mpr-worker-kcloud-8b.service"]
    text = paths[0].read_text()
    assert "very-secret" not in text
    assert "EnvironmentFile=/etc/mpr-gateway/worker.env" in text
    assert 'Environment="CUDA_VISIBLE_DEVICES=0"' in text
    assert "VLLM_API_KEY=" not in text.replace("# /etc/mpr-gateway/worker.env must hold VLLM_API_KEY=", "")
    assert _exec_argv(text) == list(plans[0].argv)
    assert "WantedBy=multi-user.target" in text


def test_cpu_unit_environment_and_no_secrets_file(tmp_path: Path) -> None:
    env = MprEnvironment(home=tmp_path / "home")
    (plan,) = plan_node(load_cluster(LOCAL, env), "local", env)
    unit = unit_for(plan)
    assert unit.name == "mpr-worker-local-cpu.service"
    for line in ('Environment="VLLM_TARGET_DEVICE=cpu"', 'Environment="VLLM_CPU_KVCACHE_SPACE=1"',
                 'Environment="HF_HUB_OFFLINE=1"', f"WorkingDirectory={tmp_path / 'home'}"):  # fmt: skip
        assert line in unit.text
    assert "EnvironmentFile" not in unit.text
    assert _exec_argv(unit.text) == list(plan.argv)
