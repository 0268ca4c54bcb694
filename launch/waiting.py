"""`mpr launch wait`: block until a node's running workers are healthy, list their adapters and answer."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.progress import Progress
from config.cluster import WorkerConfig
from launch.probes import Endpoint, ProbeError, is_healthy, list_models, missing_adapters, one_token_chat


class NotReadyError(Exception):
    """A worker that did not become ready in time; the message names it and the last problem seen."""


def _problem(worker: WorkerConfig, warm_timeout_s: float) -> str | None:
    """None when the worker is ready (healthy, adapters listed, each model answers one token), else why not."""
    endpoint = Endpoint(worker.root_url, worker.api_key)
    if not is_healthy(endpoint):
        return "/health not ok"
    try:
        problems = missing_adapters(list_models(endpoint), worker.base, worker.adapters)
        if problems:
            return "; ".join(problems)
        for model in [worker.base, *worker.adapters]:
            one_token_chat(endpoint, model, timeout_s=warm_timeout_s)
    except ProbeError as exc:
        return str(exc)
    return None


def wait_ready(
    workers: list[WorkerConfig],
    timeout_s: float,
    progress: Progress,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Poll every worker until each is ready (warmed), or raise NotReadyError once `timeout_s` has passed."""
    started = clock()
    pending = {w.name: w for w in workers}
    last: dict[str, str] = {}
    while pending:
        for name, worker in list(pending.items()):
            problem = _problem(worker, warm_timeout_s=max(1.0, timeout_s))
            if problem is None:
                del pending[name]
                progress.say(f"{name}: ready and warm after {clock() - started:.0f}s")
            else:
                last[name] = problem
        if pending and clock() - started > timeout_s:
            name = next(iter(pending))
            raise NotReadyError(f"worker {name}: not ready after {clock() - started:.0f}s: {last[name]}")
        if pending:
            pause(1.0)
