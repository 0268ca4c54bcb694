"""WorkerProcesses against a stand-in server: start, ready checks, crash reporting, kill, restart, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.progress import Progress
from benchmarks.ports import free_port
from launch.plan import ExpectedAdapter, ServerPlan
from launch.processes import WorkerProcesses, WorkerStartError

FAKE = Path(__file__).with_name("fake_vllm.py")


def fake_plan(tmp_path: Path, base: str = "m", listed: tuple[str, ...] = ("a1",),
              expected: tuple[str, ...] = ("a1",)) -> ServerPlan:  # fmt: skip
    port = free_port()
    return ServerPlan(
        worker="w1", node="n", device="cpu",
        argv=(sys.executable, str(FAKE), str(port), base, *listed),
        env={"FAKE": "1"}, cwd=tmp_path, log_path=tmp_path / "logs" / "w1.log",
        root_url=f"http://127.0.0.1:{port}", served_model="m",
        adapters=tuple(ExpectedAdapter(a, f"/ad/{a}") for a in expected),
    )  # fmt: skip


def test_start_ready_kill_restart_stop(tmp_path: Path) -> None:
    plan = fake_plan(tmp_path)
    with WorkerProcesses([plan], inherited_env={}, progress=Progress(), grace_s=5) as workers:
        workers.wait_ready(30)
        pid = workers.pid("w1")
        assert pid is not None
        assert workers.kill_worker("w1") == -9
        assert workers.pid("w1") is None
        workers.restart_worker("w1", 30)
        assert workers.pid("w1") not in (None, pid)
    assert workers.pid("w1") is None
    assert workers.exited() == {}
    assert plan.log_path.read_text().count("=== mpr: starting w1") == 2


def test_crash_before_ready_reports_log_tail(tmp_path: Path) -> None:
    plan = fake_plan(tmp_path, base="crash")
    with (
        WorkerProcesses([plan], inherited_env={}, progress=Progress()) as workers,
        pytest.raises(
            WorkerStartError, match=r"(?s)server exited with code 3 before becoming healthy.*fake engine: boom"
        ),
    ):
        workers.wait_ready(30)


def test_missing_adapter_is_reported(tmp_path: Path) -> None:
    plan = fake_plan(tmp_path, listed=("a1",), expected=("a1", "a2"))
    with (
        WorkerProcesses([plan], inherited_env={}, progress=Progress()) as workers,
        pytest.raises(WorkerStartError, match="adapter 'a2' not listed"),
    ):
        workers.wait_ready(30)


_TERMINATED_PARENT = """
import signal, sys
from pathlib import Path
from adapters.progress import Progress
from launch.processes import WorkerProcesses, sigterm_unwinds
from tests.launch.test_processes import fake_plan
with sigterm_unwinds(), WorkerProcesses([fake_plan(Path(sys.argv[1]))], inherited_env={}, progress=Progress()) as w:
    w.wait_ready(30)
    print(w.pid("w1"), flush=True)
    signal.pause()
"""


def test_a_parent_stopped_by_sigterm_stops_its_servers(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", _TERMINATED_PARENT, str(tmp_path)], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 128 + signal.SIGTERM
        with pytest.raises(ProcessLookupError):
            os.kill(server, 0)  # stopped and reaped by the parent on its way out
    finally:
        parent.kill()
        parent.wait()
