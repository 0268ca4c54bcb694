"""Fixtures for compatibility tests: fake workers, a fake answering target and one served gateway per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.ports import free_port
from benchmarks.serving import ServedGateway
from config import Cluster
from tests.gateway.conftest import make_cluster

TARGET = "answer"
LEGACY_TARGET = "answer-legacy"
DOWN_TARGET = "answer-down"
SLOW_TARGET = "answer-slow"


def target_cluster(cleaner: FakeVllmServer, describer: FakeVllmServer, answer: FakeVllmServer) -> Cluster:
    """The test cluster plus targets on the answering fake (whose served base model is `base`)."""
    targets: dict[str, Any] = {
        TARGET: {
            "kind": "openai",
            "base_url": answer.base_url,
            "model": "base",
            "timeout_s": 10,
            "refused_fields": ["prompt_logprobs"],
        },
        LEGACY_TARGET: {
            "kind": "openai",
            "base_url": answer.base_url,
            "model": "base",
            "max_tokens_param": "max_tokens",
        },
        DOWN_TARGET: {"kind": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "base"},
        SLOW_TARGET: {"kind": "openai", "base_url": answer.base_url, "model": "base", "timeout_s": 0.5},
    }
    return make_cluster(cleaner.base_url, describer.base_url, overrides={"targets": targets})


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeVllmServer]]:
    started = {
        "cleaner": FakeVllmServer("base", base_path="/models/base", adapters={"clean-a": "/adapters/clean-a"}).start(),
        "describer": FakeVllmServer("base", base_path="/models/base", adapters={"desc-a": "/adapters/desc-a"}).start(),
        "answer": FakeVllmServer("base", base_path="/models/base").start(),
    }
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture(scope="module")
def gateway(fakes: dict[str, FakeVllmServer]) -> Iterator[ServedGateway]:
    served = ServedGateway(target_cluster(fakes["cleaner"], fakes["describer"], fakes["answer"])).start()
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fakes: dict[str, FakeVllmServer]) -> None:
    """Each test starts with echoing fakes and empty recordings."""
    for fake in fakes.values():
        fake.set_default(Behaviour())
        fake.clear()


@pytest.fixture
def cleaner(fakes: dict[str, FakeVllmServer]) -> FakeVllmServer:
    return fakes["cleaner"]


@pytest.fixture
def describer(fakes: dict[str, FakeVllmServer]) -> FakeVllmServer:
    return fakes["describer"]


@pytest.fixture
def answer(fakes: dict[str, FakeVllmServer]) -> FakeVllmServer:
    return fakes["answer"]
