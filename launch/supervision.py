"""Supervision of a node's running vLLM servers: restart one that exits, with capped exponential backoff, and
give it up after too many fast failures (the gateway then serves fallbacks for its stages)."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from adapters.progress import Progress
from config.cluster import RestartPolicy
from launch.probes import is_healthy
from launch.processes import WorkerExit, WorkerProcesses, log_tail

# Exit code recorded when the server could not even be started again (as a shell reports a missing command).
COULD_NOT_START = 127


@dataclass(frozen=True)
class RestartRecord:
    """What supervision did with one worker so far: a read-only view (the metrics read it)."""

    restarts: int = 0
    fast_exits: int = 0  # consecutive exits within `fast_exit_s` of starting
    last_exit: int | None = None
    gave_up: bool = False


def restart_delay(policy: RestartPolicy, fast_exits: int) -> float:
    """Seconds before the next start: the base backoff, doubled per consecutive fast exit after the first, capped."""
    return min(policy.max_backoff_s, policy.backoff_s * 2.0 ** max(0, fast_exits - 1))


class WorkerSupervisor:
    """Watches `WorkerProcesses` from a background thread; a context manager (starts on enter, stops on exit).

    Only this thread starts or reaps the workers while it runs: `mpr up` enters it after `wait_ready` and leaves
    it before the workers are stopped. Restart counts are read from any thread through `snapshot()`.
    """

    def __init__(self, workers: WorkerProcesses, progress: Progress | None = None, *, poll_s: float = 0.5) -> None:
        self._workers = workers
        self._progress = progress or Progress()
        self._poll_s = poll_s
        self._records = {name: RestartRecord() for name in workers.plans}
        self._due: dict[str, float] = {}  # worker -> time.monotonic() of its next start
        self._unconfirmed: dict[str, float] = {}  # restarted, not seen healthy yet -> when it was started
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def __enter__(self) -> WorkerSupervisor:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop watching (a pending restart is dropped); the workers themselves are left as they are."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def snapshot(self) -> dict[str, RestartRecord]:
        with self._lock:
            return dict(self._records)

    def _run(self) -> None:
        while not self._stopping.wait(self._poll_s):
            try:
                self.check()
            except Exception as exc:  # the watch must outlive any one failure, or nothing is restarted again
                self._progress.say(f"worker supervision: {type(exc).__name__}: {exc} (still watching)")

    def check(self) -> None:
        """One look: note the servers that exited, start those whose backoff is over, confirm restarted ones."""
        for exited in self._workers.reap_exited():
            self._on_exit(exited)
        now = time.monotonic()
        for name in [name for name, due in self._due.items() if now >= due]:
            del self._due[name]
            self._restart(name)
        for name, started in list(self._unconfirmed.items()):
            if is_healthy(self._workers.endpoint(name), timeout_s=1.0):
                del self._unconfirmed[name]
                self._progress.say(f"{name}: healthy again, {time.monotonic() - started:.0f}s after its restart")

    def _keep(self, worker: str, record: RestartRecord) -> RestartRecord:
        # Only this thread writes records; the lock is for the readers of `snapshot()`.
        with self._lock:
            self._records[worker] = record
        return record

    def _on_exit(self, exited: WorkerExit) -> None:
        name = exited.worker
        policy = self._workers.plans[name].restart
        fast = exited.uptime_s < policy.fast_exit_s
        fast_exits = self._records[name].fast_exits + 1 if fast else 0
        gave_up = fast_exits >= policy.max_fast_exits
        changed = dataclasses.replace(
            self._records[name], fast_exits=fast_exits, last_exit=exited.code, gave_up=gave_up
        )
        record = self._keep(name, changed)
        self._unconfirmed.pop(name, None)
        if gave_up:
            self._progress.say(self._give_up_message(name, policy, exited.code))
            return
        delay = restart_delay(policy, fast_exits)
        self._due[name] = time.monotonic() + delay
        self._progress.say(
            f"{name}: server exited with code {exited.code} after {exited.uptime_s:.1f}s; "
            f"restarting it in {delay:g}s (restart {record.restarts + 1})"
        )

    def _give_up_message(self, worker: str, policy: RestartPolicy, code: int) -> str:
        log_path = self._workers.plans[worker].log_path
        return (
            f"{worker}: server exited {policy.max_fast_exits} times in a row within {policy.fast_exit_s:g}s of "
            f"starting (last exit code {code}); giving up on it: not restarting it again. The gateway keeps "
            f"serving, with fallbacks for the stages only it serves, until `mpr up` is started again. "
            f"Log {log_path}:\n{log_tail(log_path, 10)}"
        )

    def _restart(self, name: str) -> None:
        record = self._keep(name, dataclasses.replace(self._records[name], restarts=self._records[name].restarts + 1))
        try:
            self._workers.start_worker(name)
        except OSError as exc:
            self._progress.say(f"{name}: could not start the server again: {exc}")
            self._on_exit(WorkerExit(name, COULD_NOT_START, 0.0))
            return
        self._unconfirmed[name] = time.monotonic()
        self._progress.say(f"{name}: restarted (restart {record.restarts})")
