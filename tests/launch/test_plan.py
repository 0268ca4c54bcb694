"""Plan rules: rank rounding, max-loras on CPU and GPU, GPU memory split, environment, the API key and argv."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.lora_limits import LoraRankError, max_lora_rank, round_up_rank
from config.cluster import Cluster
from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, ConfigError, load_cluster
from launch.plan import LaunchPlanError, ServerPlan, bind_host, plan_cluster, plan_node

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "cluster.example.yaml"
LOCAL = LOCAL_CLUSTER


def _value(plan: ServerPlan, flag: str) -> str:
    return plan.argv[plan.argv.index(flag) + 1]


def _lora_modules(plan: ServerPlan) -> list[dict[str, Any]]:
    start = plan.argv.index("--lora-modules") + 1
    out = []
    for arg in plan.argv[start:]:
        if arg.startswith("--"):
            break
        out.append(json.loads(arg))
    return out


def _cluster(workers: list[dict[str, Any]], ranks: dict[str, int] | None = None) -> Cluster:
    ranks = ranks or {"a1": 8, "a2": 8, "a3": 8}
    return Cluster.model_validate(
        {
            "models": {"m": {"path": "/models/m", "max_model_len": 1024}},
            "adapters": {
                name: {"role": "cleaner", "tier": "small", "base": "m", "path": f"/ad/{name}", "rank": rank}
                for name, rank in ranks.items()
            },
            "workers": workers,
            "stages": {"cleaner": {"adapters": {"small": "a1"}, "system_prompt": "x"}},
        }
    )


def _worker(name: str = "w", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "node": "n", "url": "http://127.0.0.1:9000/v1", "base": "m",
                            "adapters": ["a1", "a2"]}  # fmt: skip
    return {**base, **overrides}


@pytest.fixture
def env(tmp_path: Path) -> MprEnvironment:
    return MprEnvironment(home=tmp_path / "home")


@pytest.mark.parametrize(
    ("rank", "expected"), [(1, 1), (2, 8), (8, 8), (9, 16), (16, 16), (17, 32), (300, 320), (321, 512)]
)
def test_rank_rounds_up_to_an_accepted_value(rank: int, expected: int) -> None:
    assert round_up_rank(rank) == expected


def test_rank_above_512_is_rejected_and_no_adapters_means_default() -> None:
    with pytest.raises(LoraRankError, match="513"):
        round_up_rank(513)
    assert max_lora_rank([]) == 16
    assert max_lora_rank([4, 24]) == 32


def test_max_lora_rank_uses_the_largest_adapter(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(adapters=["a1", "a2"])], ranks={"a1": 8, "a2": 20})
    (plan,) = plan_node(cluster, "n", env, "/py")
    assert _value(plan, "--max-lora-rank") == "32"


def test_cpu_keeps_the_last_lora_slot_empty(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(launch={"device": "cpu"})])
    (plan,) = plan_node(cluster, "n", env, "/py")
    assert _value(plan, "--max-loras") == "3"
    assert _value(plan, "--max-cpu-loras") == "3"


def test_cpu_rejects_max_loras_not_above_adapter_count(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(launch={"device": "cpu", "max_loras": 2})])
    with pytest.raises(LaunchPlanError, match=r"max_loras=2 must exceed its 2 adapters.*48421"):
        plan_node(cluster, "n", env, "/py")


def test_cpu_accepts_a_larger_max_loras(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(launch={"device": "cpu", "max_loras": 5})])
    (plan,) = plan_node(cluster, "n", env, "/py")
    assert (_value(plan, "--max-loras"), _value(plan, "--max-cpu-loras")) == ("5", "5")


def test_cpu_refuses_runtime_lora_loading_and_overrides_an_inherited_one(env: MprEnvironment) -> None:
    enabled = _cluster([_worker(launch={"device": "cpu", "env": {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}})])
    with pytest.raises(LaunchPlanError, match=r"VLLM_ALLOW_RUNTIME_LORA_UPDATING is not allowed on CPU.*48421"):
        plan_node(enabled, "n", env, "/py")
    (plan,) = plan_node(_cluster([_worker(launch={"device": "cpu"})]), "n", env, "/py")
    child = plan.child_env({"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "PATH": "/bin"})
    assert child["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "False" and child["PATH"] == "/bin"


def test_gpu_max_loras_is_adapter_count_or_configured(env: MprEnvironment) -> None:
    cluster = _cluster([_worker("g1"), _worker("g2", url="http://127.0.0.1:9001/v1", launch={"max_loras": 2,
                        "gpu": 1})])  # fmt: skip
    plans = plan_node(cluster, "n", env, "/py")
    assert [_value(p, "--max-loras") for p in plans] == ["2", "2"]
    cluster = _cluster([_worker(adapters=["a1", "a2", "a3"])])
    assert _value(plan_node(cluster, "n", env, "/py")[0], "--max-loras") == "3"


def test_gpu_memory_split_between_workers_sharing_a_gpu(env: MprEnvironment) -> None:
    cluster = _cluster([_worker("g1"), _worker("g2", url="http://127.0.0.1:9001/v1")])
    plans = plan_node(cluster, "n", env, "/py")
    assert [_value(p, "--gpu-memory-utilization") for p in plans] == ["0.45", "0.45"]
    assert all(p.env == {"CUDA_VISIBLE_DEVICES": "0"} for p in plans)


def test_gpu_memory_configured_values_and_lone_worker(env: MprEnvironment) -> None:
    cluster = _cluster([_worker("g1", launch={"gpu_memory_utilization": 0.3}),
                        _worker("g2", url="http://127.0.0.1:9001/v1"),
                        _worker("g3", url="http://127.0.0.1:9002/v1", launch={"gpu": 1})])  # fmt: skip
    plans = plan_node(cluster, "n", env, "/py")
    assert _value(plans[0], "--gpu-memory-utilization") == "0.3"
    assert _value(plans[1], "--gpu-memory-utilization") == "0.6"
    assert "--gpu-memory-utilization" not in plans[2].argv
    assert plans[2].env["CUDA_VISIBLE_DEVICES"] == "1"


def test_gpu_memory_overcommitted_is_an_error(env: MprEnvironment) -> None:
    cluster = _cluster([_worker("g1", launch={"gpu_memory_utilization": 0.9}),
                        _worker("g2", url="http://127.0.0.1:9001/v1")])  # fmt: skip
    with pytest.raises(LaunchPlanError, match="no memory left"):
        plan_node(cluster, "n", env, "/py")


def test_cpu_env_python_and_cwd(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(launch={"device": "cpu", "cpu_kvcache_gib": 2, "cpu_threads_bind": "0",
                                        "env": {"EXTRA": "1"}, "extra_args": ["--seed", "7"]})])  # fmt: skip
    (plan,) = plan_node(cluster, "n", env, "/py")
    assert plan.env == {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "2",
                        "VLLM_CPU_OMP_THREADS_BIND": "0", "HF_HUB_OFFLINE": "1",
                        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "False", "EXTRA": "1"}  # fmt: skip
    assert plan.argv[:3] == (str(env.home / "engine-venv" / "bin" / "python"), "-m",
                             "vllm.entrypoints.openai.api_server")  # fmt: skip
    assert plan.argv[-2:] == ("--seed", "7")
    assert plan.cwd == env.home
    assert plan.log_path == env.home / "logs" / "w.log"


def test_gpu_python_is_launch_python_or_current(env: MprEnvironment) -> None:
    cluster = _cluster([_worker("g1"), _worker("g2", url="http://127.0.0.1:9001/v1",
                                               launch={"python": "/opt/vllm/bin/python"})])  # fmt: skip
    plans = plan_node(cluster, "n", env, "/current/python")
    assert [p.argv[0] for p in plans] == ["/current/python", "/opt/vllm/bin/python"]


def test_argv_core_flags_and_lora_modules_json(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(launch={"device": "cpu", "dtype": "float32"})])
    (plan,) = plan_node(cluster, "n", env, "/py")
    assert _value(plan, "--model") == "/models/m"
    assert _value(plan, "--served-model-name") == "m"
    assert (_value(plan, "--host"), _value(plan, "--port")) == ("127.0.0.1", "9000")
    assert _value(plan, "--dtype") == "float32"
    assert _value(plan, "--max-model-len") == "1024"
    assert "--enable-lora" in plan.argv
    assert _lora_modules(plan) == [
        {"name": "a1", "path": "/ad/a1", "base_model_name": "m"},
        {"name": "a2", "path": "/ad/a2", "base_model_name": "m"},
    ]
    assert [a.name for a in plan.adapters] == ["a1", "a2"]
    assert (plan.health_url, plan.base_url) == ("http://127.0.0.1:9000/health", "http://127.0.0.1:9000/v1")


def test_worker_without_adapters_has_no_lora_flags(env: MprEnvironment) -> None:
    (plan,) = plan_node(_cluster([_worker(adapters=[])]), "n", env, "/py")
    assert "--enable-lora" not in plan.argv
    assert "--max-loras" not in plan.argv


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://127.0.0.1:1/v1", "127.0.0.1"), ("http://localhost:1/v1", "localhost"),
     ("http://[::1]:1/v1", "::1"), ("http://jw2:1/v1", "0.0.0.0"), ("http://10.0.0.5:1/v1", "0.0.0.0")],
)  # fmt: skip
def test_bind_host(url: str, host: str) -> None:
    worker = _cluster([_worker(url=url)]).workers[0]
    assert bind_host(worker) == host


def test_api_key_goes_to_env_never_argv(env: MprEnvironment) -> None:
    cluster = _cluster([_worker(api_key="s3cret-key")])
    (plan,) = plan_node(cluster, "n", env, "/py")
    assert not any("s3cret-key" in arg for arg in plan.argv)
    assert "s3cret-key" not in repr(plan)
    assert plan.display_env()["VLLM_API_KEY"] == "<set in the cluster file>"
    child = plan.child_env({"PATH": "/bin", "VLLM_API_KEY": "inherited"})
    assert child["VLLM_API_KEY"] == "s3cret-key"
    assert child["PATH"] == "/bin"


def test_missing_key_variable_fails_only_at_start(env: MprEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPR_WORKER_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="MPR_WORKER_API_KEY"):
        load_cluster(EXAMPLE, env)
    cluster = load_cluster(EXAMPLE, env, require_secrets=False)
    plan = plan_node(cluster, "jw2", env, "/py")[0]
    assert plan.display_env()["VLLM_API_KEY"] == "<from MPR_WORKER_API_KEY>"
    with pytest.raises(LaunchPlanError, match="MPR_WORKER_API_KEY is not set"):
        plan.child_env({})


def test_key_from_environment_variable(env: MprEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPR_WORKER_API_KEY", "from-env")
    plan = plan_node(load_cluster(EXAMPLE, env), "kcloud", env, "/py")[0]
    assert plan.api_key == SecretStr("from-env")
    assert plan.child_env({})["VLLM_API_KEY"] == "from-env"
    assert "from-env" not in " ".join(plan.argv)


def test_four_node_example_plan(env: MprEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPR_WORKER_API_KEY", raising=False)
    cluster = load_cluster(EXAMPLE, env, require_secrets=False)
    plans = plan_cluster(cluster, env, "/py")
    assert sorted(plans) == ["jw2", "jw3", "kcloud"]
    assert plan_node(cluster, "jw1", env, "/py") == []
    summary = {p.worker: (_value(p, "--port"), _value(p, "--served-model-name"), _value(p, "--max-loras"),
                          _value(p, "--gpu-memory-utilization"), _value(p, "--host"))
               for node_plans in plans.values() for p in node_plans}  # fmt: skip
    assert summary == {
        "jw2-3b": ("8002", "llama-3.2-3b", "1", "0.35", "0.0.0.0"),
        "jw2-8b": ("8012", "llama-3.1-8b", "1", "0.55", "0.0.0.0"),
        "jw3-3b": ("8003", "llama-3.2-3b", "1", "0.35", "0.0.0.0"),
        "jw3-8b": ("8013", "llama-3.1-8b", "1", "0.55", "0.0.0.0"),
        "kcloud-3b": ("8004", "llama-3.2-3b", "2", "0.45", "0.0.0.0"),
        "kcloud-8b": ("8014", "llama-3.1-8b", "2", "0.45", "0.0.0.0"),
    }
    kcloud = plans["kcloud"][0]
    assert [m["name"] for m in _lora_modules(kcloud)] == ["grammar-3b", "wikidata-3b"]
    assert _value(kcloud, "--max-lora-rank") == "16"


def test_local_default_plan(env: MprEnvironment) -> None:
    (plan,) = plan_node(load_cluster(LOCAL, env), "local", env, "/py")
    assert _value(plan, "--max-loras") == "3"
    assert _value(plan, "--max-lora-rank") == "8"
    assert _value(plan, "--model") == str(env.home / "demo" / "smollm2-135m-instruct")
    assert plan.env["VLLM_TARGET_DEVICE"] == "cpu"
