"""`mpr launch wait` against a stand-in server: ready once listed and answering; a missing adapter times out."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.progress import Progress
from benchmarks.ports import free_port
from config.cluster import WorkerConfig
from launch.probes import Endpoint, is_healthy
from launch.waiting import NotReadyError, wait_ready

FAKE = Path(__file__).with_name("fake_vllm.py")


@pytest.fixture
def fake_port() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(FAKE), str(port), "m", "a1"], stdout=subprocess.DEVNULL)
    try:
        endpoint = Endpoint(f"http://127.0.0.1:{port}")
        for _ in range(200):
            if is_healthy(endpoint, 0.2) or process.poll() is not None:
                break
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait()


def worker(port: int, adapters: list[str]) -> WorkerConfig:
    return WorkerConfig.model_validate(
        {"name": "w1", "node": "n", "url": f"http://127.0.0.1:{port}/v1", "base": "m", "adapters": adapters}
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses = 0

    def time(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses += 1
        self.now += seconds


def test_ready_worker_passes_at_once(fake_port: int) -> None:
    clock = FakeClock()
    wait_ready([worker(fake_port, ["a1"])], 5.0, Progress(), clock=clock.time, pause=clock.pause)
    assert clock.pauses == 0


def test_missing_adapter_times_out_naming_worker_and_problem(fake_port: int) -> None:
    clock = FakeClock()
    with pytest.raises(NotReadyError, match=r"worker w1: not ready after \d+s: adapter 'a2' not listed"):
        wait_ready([worker(fake_port, ["a1", "a2"])], 3.0, Progress(), clock=clock.time, pause=clock.pause)
    assert clock.pauses >= 3


def test_down_worker_times_out() -> None:
    clock = FakeClock()
    with pytest.raises(NotReadyError, match=r"/health not ok"):
        wait_ready([worker(free_port(), [])], 2.0, Progress(), clock=clock.time, pause=clock.pause)
