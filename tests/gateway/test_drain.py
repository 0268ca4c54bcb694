"""Graceful drain: SIGTERM to a real `serve` process lets the in-flight request finish, then it exits 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.ports import free_port
from tests.gateway.conftest import make_cluster

REPO = Path(__file__).resolve().parents[2]
NOISY = "what is the captial of frane"


class _Gateway:
    """`python -m gateway.cli serve --config FILE` as a child process."""

    def __init__(self, cleaner: FakeVllmServer, describer: FakeVllmServer, tmp: Path, drain_s: float) -> None:
        self.port = free_port()
        cluster = make_cluster(cleaner.base_url, describer.base_url)
        data = cluster.model_dump(mode="json", exclude_none=True)
        data["gateway"].update({"port": self.port, "drain_timeout_s": drain_s, "log_level": "warning"})
        self.config = tmp / "cluster.yaml"
        self.config.write_text(yaml.safe_dump(data))
        self.log = (tmp / "gateway.log").open("w")
        argv = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(self.config)]
        self.process = subprocess.Popen(argv, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until(self, accepting: bool, timeout_s: float) -> None:
        """Bounded poll of /health (a separate process: there is nothing to wait on)."""
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            assert self.process.poll() is None or not accepting, self.output()
            try:
                up = httpx.get(self.url + "/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                up = False
            if up == accepting:
                return
            time.sleep(0.05)
        raise AssertionError(f"gateway accepting={not accepting} after {timeout_s}s\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def gated(cleaner_fake: FakeVllmServer) -> Iterator[FakeVllmServer]:
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?", gate="drain"))
    yield cleaner_fake
    cleaner_fake.open_gate("drain")


def _post_in_thread(url: str) -> tuple[threading.Thread, list[httpx.Response | httpx.HTTPError]]:
    result: list[httpx.Response | httpx.HTTPError] = []

    def post() -> None:
        try:
            result.append(httpx.post(url, json={"prompt": NOISY}, timeout=30))
        except httpx.HTTPError as exc:  # a request cut at the drain bound
            result.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread, result


def test_sigterm_finishes_the_in_flight_request_and_exits_0(
    gated: FakeVllmServer, describer_fake: FakeVllmServer, tmp_path: Path
) -> None:
    gateway = _Gateway(gated, describer_fake, tmp_path, drain_s=15.0)
    try:
        gateway.wait_until(accepting=True, timeout_s=60)
        thread, result = _post_in_thread(gateway.url + "/refine")
        gated.wait_until(lambda f: f.in_flight() == 1, timeout=10)
        gateway.process.send_signal(signal.SIGTERM)
        gateway.wait_until(accepting=False, timeout_s=10)  # stopped accepting new connections
        assert gateway.process.poll() is None, "still draining while the request is held"
        gated.open_gate("drain")
        thread.join(timeout=15)
        response = result[0] if result else None
        assert isinstance(response, httpx.Response) and response.status_code == 200, gateway.output()
        assert response.json()["stages"]["cleaner"]["status"] == "ok"
        assert gateway.process.wait(timeout=15) == 0, gateway.output()
    finally:
        gateway.stop()


def test_drain_time_is_bounded(gated: FakeVllmServer, describer_fake: FakeVllmServer, tmp_path: Path) -> None:
    gateway = _Gateway(gated, describer_fake, tmp_path, drain_s=1.0)
    try:
        gateway.wait_until(accepting=True, timeout_s=60)
        thread, _ = _post_in_thread(gateway.url + "/refine")
        gated.wait_until(lambda f: f.in_flight() == 1, timeout=10)
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.process.wait(timeout=15) == 0, gateway.output()
        assert time.monotonic() - started < 8.0, "the held request did not keep the process past the drain bound"
        thread.join(timeout=15)
    finally:
        gateway.stop()
