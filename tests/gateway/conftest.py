"""Fixtures for gateway tests: fake vLLM workers on loopback, clusters pointing at them, a served gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from benchmarks.fakes import FakeVllmServer
from benchmarks.serving import ServedGateway
from config import Cluster
from gateway.http.app import create_app

CLEANER_PROMPT = "Correct the prompt between the tags."
DESCRIBER_PROMPT = "Give background about the prompt between the tags."


def make_cluster(
    cleaner_url: str,
    describer_url: str,
    backup_url: str | None = None,
    timeout_s: float = 5.0,
    overrides: dict[str, Any] | None = None,
) -> Cluster:
    """Two primaries (cleaner, describer) and an optional backup serving both adapters."""
    workers: list[dict[str, Any]] = [
        {"name": "cleaner-node", "node": "jw2", "url": cleaner_url, "base": "base", "adapters": ["clean-a"]},
        {"name": "describer-node", "node": "jw3", "url": describer_url, "base": "base", "adapters": ["desc-a"]},
    ]
    if backup_url is not None:
        workers.append(
            {
                "name": "backup-node",
                "node": "kcloud",
                "url": backup_url,
                "role": "backup",
                "base": "base",
                "adapters": ["clean-a", "desc-a"],
            }
        )
    data: dict[str, Any] = {
        # Adapter probes (one-token completions) would show up in the fakes' request counts: tests opt in.
        "gateway": {"probe_interval_s": 0.2, "probe_timeout_s": 2.0, "probe_adapters": False},
        "models": {"base": {"path": "/models/base"}},
        "adapters": {
            "clean-a": {"role": "cleaner", "tier": "small", "base": "base", "path": "/adapters/clean-a", "rank": 8},
            "desc-a": {"role": "describer", "tier": "small", "base": "base", "path": "/adapters/desc-a", "rank": 8},
        },
        "workers": workers,
        "stages": {
            "cleaner": {
                "adapters": {"small": "clean-a"},
                "timeout_s": timeout_s,
                "system_prompt": CLEANER_PROMPT,
                "decoding": {"temperature": 0.0},
            },
            "describer": {"adapters": {"small": "desc-a"}, "timeout_s": timeout_s, "system_prompt": DESCRIBER_PROMPT},
        },
        "retry": {"attempts": 2, "backoff_s": 0.0},
    }
    for key, value in (overrides or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Cluster.model_validate(data)


def fake_worker(adapters: dict[str, str]) -> FakeVllmServer:
    return FakeVllmServer("base", base_path="/models/base", adapters=adapters).start()


@pytest.fixture
def cleaner_fake() -> Iterator[FakeVllmServer]:
    fake = fake_worker({"clean-a": "/adapters/clean-a"})
    yield fake
    fake.stop()


@pytest.fixture
def describer_fake() -> Iterator[FakeVllmServer]:
    fake = fake_worker({"desc-a": "/adapters/desc-a"})
    yield fake
    fake.stop()


@pytest.fixture
def cluster(cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer) -> Cluster:
    return make_cluster(cleaner_fake.base_url, describer_fake.base_url)


async def started_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        yield client


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app in-process (lifespan run), over httpx's ASGI transport."""
    async for c in started_client(create_app(cluster)):
        yield c


@pytest.fixture
def served(cluster: Cluster) -> Iterator[ServedGateway]:
    gateway = ServedGateway(cluster).start()
    yield gateway
    gateway.stop()
