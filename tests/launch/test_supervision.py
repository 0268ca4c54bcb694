"""WorkerSupervisor against a stand-in server process: a killed worker comes back, one that keeps crashing is not."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from adapters.progress import Progress
from config.cluster import RestartPolicy
from launch.plan import ServerPlan
from launch.probes import is_healthy
from launch.processes import WorkerProcesses
from launch.supervision import RestartRecord, WorkerSupervisor, restart_delay
from mpr.worker_metrics import WorkerRestartCollector
from tests.launch.test_processes import fake_plan


def with_policy(plan: ServerPlan, fast_exit_s: float, max_fast_exits: int) -> ServerPlan:
    policy = RestartPolicy(backoff_s=0.05, max_backoff_s=0.2, fast_exit_s=fast_exit_s, max_fast_exits=max_fast_exits)
    return replace(plan, restart=policy)


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "supervision did not get there in time"
        time.sleep(0.02)  # polling child processes; not a timing assertion


def kill_from_outside(workers: WorkerProcesses, worker: str) -> int:
    """SIGKILL the server's process group behind the supervisor's back, as the OOM killer would; its old pid."""
    pid = workers.pid(worker)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    return pid


def restarted(supervisor: WorkerSupervisor, times: int) -> Callable[[], bool]:
    return lambda: supervisor.snapshot()["w1"].restarts == times


def logged(out: io.StringIO, line: str, times: int) -> Callable[[], bool]:
    return lambda: out.getvalue().count(line) == times


def test_restart_delay_doubles_per_fast_exit_up_to_the_cap() -> None:
    policy = RestartPolicy(backoff_s=1.0, max_backoff_s=5.0)
    assert [restart_delay(policy, n) for n in range(6)] == [1.0, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_killed_worker_is_restarted_logged_and_counted(tmp_path: Path) -> None:
    plan = with_policy(fake_plan(tmp_path), fast_exit_s=60.0, max_fast_exits=3)
    out = io.StringIO()
    progress = Progress(out)
    registry = CollectorRegistry()
    with WorkerProcesses([plan], inherited_env={}, progress=progress, grace_s=5) as workers:
        workers.wait_ready(30, warm=False)
        with WorkerSupervisor(workers, progress, poll_s=0.05) as supervisor:
            registry.register(WorkerRestartCollector(supervisor))
            for restarts in (1, 2):
                old_pid = kill_from_outside(workers, "w1")
                wait_until(restarted(supervisor, restarts))
                # The supervisor's own health check of the new server, logged (before the next kill).
                wait_until(logged(out, "w1: healthy again", restarts))
                assert workers.pid("w1") not in (None, old_pid)
            record = supervisor.snapshot()["w1"]
            metrics = generate_latest(registry).decode()
    assert record == RestartRecord(restarts=2, fast_exits=2, last_exit=-9, gave_up=False)
    assert 'mpr_worker_restarts_total{worker="w1"} 2.0' in metrics
    assert 'mpr_worker_given_up{worker="w1"} 0.0' in metrics
    text = out.getvalue()
    assert "w1: server exited with code -9" in text
    assert "restarting it in 0.05s (restart 1)" in text
    assert "restarting it in 0.1s (restart 2)" in text  # the second fast exit in a row doubles the backoff
    assert "w1: healthy again" in text
    assert plan.log_path.read_text().count("=== mpr: starting w1") == 3


def test_a_long_run_resets_the_fast_failure_count(tmp_path: Path) -> None:
    plan = with_policy(fake_plan(tmp_path), fast_exit_s=0.001, max_fast_exits=1)
    with WorkerProcesses([plan], inherited_env={}, progress=Progress(io.StringIO()), grace_s=5) as workers:
        workers.wait_ready(30, warm=False)
        with WorkerSupervisor(workers, Progress(io.StringIO()), poll_s=0.05) as supervisor:
            for restarts in (1, 2):
                kill_from_outside(workers, "w1")
                wait_until(restarted(supervisor, restarts))
                wait_until(lambda: is_healthy(workers.endpoint("w1")))
    assert supervisor.snapshot()["w1"] == RestartRecord(restarts=2, fast_exits=0, last_exit=-9, gave_up=False)


def test_a_worker_that_keeps_failing_fast_is_given_up_with_a_clear_message(tmp_path: Path) -> None:
    plan = with_policy(fake_plan(tmp_path, base="crash"), fast_exit_s=60.0, max_fast_exits=3)
    out = io.StringIO()
    registry = CollectorRegistry()
    with WorkerProcesses([plan], inherited_env={}, progress=Progress(out)) as workers:
        with WorkerSupervisor(workers, Progress(out), poll_s=0.05) as supervisor:
            registry.register(WorkerRestartCollector(supervisor))
            wait_until(lambda: supervisor.snapshot()["w1"].gave_up)
        supervisor.check()  # stopped: nothing left to reap, nothing due
        assert workers.pid("w1") is None
    assert supervisor.snapshot()["w1"] == RestartRecord(restarts=2, fast_exits=3, last_exit=3, gave_up=True)
    assert 'mpr_worker_given_up{worker="w1"} 1.0' in generate_latest(registry).decode()
    text = out.getvalue()
    assert "w1: server exited 3 times in a row within 60s of starting (last exit code 3); giving up on it" in text
    assert "fake engine: boom" in text  # the log's tail says why
    assert plan.log_path.read_text().count("=== mpr: starting w1") == 3
