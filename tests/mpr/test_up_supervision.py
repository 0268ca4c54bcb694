"""`mpr up` as a user runs it, on a stand-in vLLM server process: a worker killed while serving comes back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from benchmarks.ports import free_port

REPO = Path(__file__).resolve().parents[2]
WORKER = "local-fake"
# Put first on the worker's PYTHONPATH: `python -m vllm.entrypoints.openai.api_server <vLLM's arguments>` then
# runs benchmarks' fake vLLM server (a real HTTP server) instead of vLLM.
SHIM = '''"""Stand-in for vLLM's OpenAI server module: vLLM's command line, served by benchmarks' fake."""
import argparse
import json

from benchmarks.fakes.vllm_server import main

parser = argparse.ArgumentParser()
for option in ("--model", "--served-model-name", "--host", "--port", "--max-loras"):
    parser.add_argument(option)
parser.add_argument("--lora-modules", nargs="*", default=[])
args, _ = parser.parse_known_args()
adapters = [f"{m['name']}={m['path']}" for m in map(json.loads, args.lora_modules)]
main(["--base", args.served_model_name, "--base-path", args.model, "--host", args.host, "--port", args.port,
      "--max-loras", args.max_loras, *[part for a in adapters for part in ("--adapter", a)]])
'''


def cluster_file(tmp_path: Path, gateway_port: int, worker_port: int) -> Path:
    shim = tmp_path / "shim" / "vllm" / "entrypoints" / "openai"
    shim.mkdir(parents=True)
    for folder in (shim.parents[1], shim.parent, shim):
        (folder / "__init__.py").write_text("")
    (shim / "api_server.py").write_text(SHIM)
    adapter = {"tier": "small", "base": "base", "rank": 8}
    launch = {
        "device": "cpu", "python": sys.executable, "env": {"PYTHONPATH": f"{tmp_path / 'shim'}{os.pathsep}{REPO}"},
        "restart": {"backoff_s": 0.2, "max_backoff_s": 1.0, "fast_exit_s": 1.0, "max_fast_exits": 3},
    }  # fmt: skip
    data: dict[str, Any] = {
        "gateway": {"node": "local", "port": gateway_port, "probe_interval_s": 0.2, "log_level": "warning"},
        "models": {"base": {"path": "/models/base"}},
        "adapters": {"clean-a": {**adapter, "role": "cleaner", "path": "/adapters/clean-a"},
                     "desc-a": {**adapter, "role": "describer", "path": "/adapters/desc-a"}},
        "workers": [{"name": WORKER, "node": "local", "url": f"http://127.0.0.1:{worker_port}/v1", "base": "base",
                     "adapters": ["clean-a", "desc-a"], "launch": launch}],
        "stages": {"cleaner": {"adapters": {"small": "clean-a"}, "system_prompt": "Fix the prompt."},
                   "describer": {"adapters": {"small": "desc-a"}, "system_prompt": "Describe the topic."}},
    }  # fmt: skip
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def wait_for(what: str, condition: Any, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"mpr up exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling processes that start in seconds; not a timing assertion
    raise AssertionError(f"not {what} within {timeout_s}s:\n{log.read_text(errors='replace')[-3000:]}")


def worker_pids(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(rf"started {WORKER} \(pid (\d+)", log.read_text(errors="replace"))]


def test_mpr_up_restarts_a_killed_worker_and_counts_it(tmp_path: Path) -> None:
    gateway_port, worker_port = free_port(), free_port()
    config = cluster_file(tmp_path, gateway_port, worker_port)
    log = tmp_path / "up.log"
    url = f"http://127.0.0.1:{gateway_port}"
    env = {**os.environ, "MPR_HOME": str(tmp_path / "home")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mpr", "up", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for("ready", lambda: httpx.get(url + "/ready").status_code == 200, process, log)
        os.killpg(worker_pids(log)[0], signal.SIGKILL)  # the worker dies under the gateway's feet

        def restarted() -> bool:
            metrics = httpx.get(url + "/metrics").text
            return f'mpr_worker_restarts_total{{worker="{WORKER}"}} 1.0' in metrics

        wait_for("restarted", restarted, process, log)
        wait_for("ready again", lambda: httpx.get(url + "/ready").status_code == 200, process, log)
        # The gateway's probe may see it ready before the supervisor's next look confirms it: wait for that line.
        wait_for("confirmed", lambda: f"{WORKER}: healthy again" in log.read_text(errors="replace"), process, log)
        body = httpx.post(url + "/refine", json={"prompt": "what is the captial of frane"}, timeout=30).json()
        assert body["stages"]["cleaner"]["worker"] == WORKER
        assert body["stages"]["cleaner"]["status"] in ("ok", "rejected")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    output = log.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert f"{WORKER}: server exited with code -9" in output
    assert f"{WORKER}: healthy again" in output
    first, second = worker_pids(log)
    assert first != second
    assert f"stopped {WORKER}" in output
    with pytest.raises(httpx.TransportError):  # the worker did not outlive mpr up
        httpx.get(f"http://127.0.0.1:{worker_port}/health", timeout=2)
