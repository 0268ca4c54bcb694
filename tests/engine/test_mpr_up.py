"""`mpr up` as a user runs it: a real worker and gateway, a request, a killed worker that comes back, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from benchmarks.ports import free_port
from config.loading import LOCAL_CLUSTER

pytestmark = pytest.mark.engine


def cluster_file(tmp_path: Path, gateway_port: int, worker_port: int) -> Path:
    """config/local.yaml on other ports (so it runs beside anything on 8000/8100), prompts by absolute path."""
    data = yaml.safe_load(LOCAL_CLUSTER.read_text())
    data["gateway"]["port"] = gateway_port
    for worker in data["workers"]:
        worker["url"] = f"http://127.0.0.1:{worker_port}/v1"
    for target in data.get("targets", {}).values():
        target["base_url"] = f"http://127.0.0.1:{worker_port}/v1"
    for stage in data["stages"].values():
        stage["prompt_file"] = str(LOCAL_CLUSTER.parent / stage["prompt_file"])
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def wait_ready(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "mpr up exited before the gateway was ready"
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1.0)  # polling a start-up that takes tens of seconds; not a timing assertion
    raise AssertionError(f"{url} not ready within {deadline_s}s")


def worker_pid(log: Path) -> int:
    found = re.search(r"started local-cpu \(pid (\d+)", log.read_text(errors="replace"))
    assert found is not None, "no worker start in the log"
    return int(found.group(1))


def wait_logged(log: Path, line: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while line not in log.read_text(errors="replace"):
        assert process.poll() is None, "mpr up exited before its worker came back"
        assert time.monotonic() < deadline, f"{line!r} not logged within {deadline_s}s"
        time.sleep(1.0)  # polling a restart that takes tens of seconds; not a timing assertion


def assert_served_by_the_worker(url: str) -> None:
    body = httpx.post(url + "/refine", json={"prompt": "what is the captial of frane"}, timeout=120).json()
    assert body["stages"]["cleaner"]["adapter"] == "demo-cleaner"
    assert body["stages"]["cleaner"]["status"] in ("ok", "rejected")
    assert body["refined_prompt"]


def test_mpr_up_serves_refinements_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    gateway_port, worker_port = free_port(), free_port()
    config = cluster_file(tmp_path, gateway_port, worker_port)
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mpr", "up", "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ), start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{gateway_port}"
    try:
        wait_ready(url, process, 600)
        assert_served_by_the_worker(url)
        # Killed under the gateway's feet: `mpr up` starts it again and the gateway is served by it once more.
        os.killpg(worker_pid(tmp_path / "up.log"), signal.SIGKILL)
        wait_logged(tmp_path / "up.log", "local-cpu: healthy again", process, 600)
        wait_ready(url, process, 120)
        assert 'mpr_worker_restarts_total{worker="local-cpu"} 1.0' in httpx.get(url + "/metrics", timeout=5).text
        assert_served_by_the_worker(url)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=90)
        log.close()
    output = (tmp_path / "up.log").read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert f"mpr-gateway is up on http://127.0.0.1:{gateway_port}" in output
    assert "stopped local-cpu" in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{worker_port}/health", timeout=2)
