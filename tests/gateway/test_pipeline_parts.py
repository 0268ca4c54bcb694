"""The pure pipeline parts: router tiers and ordering, and the breaker."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Cluster, MprEnvironment, load_cluster
from config.cluster import BreakerConfig, RoutingConfig
from gateway.pipeline import routing
from gateway.upstream.breakers import EndpointRegistry, EndpointView
from gateway.upstream.calls import Route

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    import os

    os.environ.setdefault("MPR_WORKER_API_KEY", "k")
    return load_cluster(CONFIG_DIR / "cluster.example.yaml", MprEnvironment(home=tmp_path_factory.mktemp("h")))


def test_tier_policy() -> None:
    config = RoutingConfig(default_tier="small", large_above_chars=20)
    assert routing.choose_tier("short", config) == "small"
    assert routing.choose_tier("x" * 21, config) == "large"
    assert routing.choose_tier("x" * 21, config, pinned="small") == "small"


def test_very_noisy_prompts_go_to_the_large_tier() -> None:
    config = RoutingConfig(default_tier="small", large_above_noise=0.3, large_noise_min_words=4)
    assert routing.choose_tier("teh qick brwn fox", config, misspelled=3, words=4) == "large"
    assert routing.choose_tier("the qick brown fox", config, misspelled=1, words=4) == "small"
    assert routing.choose_tier("teh qick", config, misspelled=2, words=2) == "small", "too short to judge"
    assert routing.choose_tier("teh qick brwn fox", config, pinned="small", misspelled=3, words=4) == "small"


def test_routes_primary_then_backup_then_other_tier(example: Cluster) -> None:
    routes = routing.plan_routes(example, "cleaner", "small", {})
    assert [(r.worker, r.adapter) for r in routes] == [
        ("jw2-3b", "grammar-3b"),
        ("kcloud-3b", "grammar-3b"),
        ("jw2-8b", "grammar-8b"),
        ("kcloud-8b", "grammar-8b"),
    ]


def test_routes_skip_unavailable_and_prefer_adapter_order(example: Cluster) -> None:
    views = {"jw3-3b": EndpointView(available=False)}
    routes = routing.plan_routes(example, "describer", "small", views)
    assert routes[0] == Route("kcloud-3b", "wikidata-3b", "small", "backup")
    assert all(r.worker != "jw3-3b" for r in routes)


def test_least_busy_replica_first(example: Cluster) -> None:
    replica = example.workers[0].model_copy(update={"name": "jw2-3b-b"})
    cluster = example.model_copy(update={"workers": [*example.workers, replica]})
    views = {"jw2-3b": EndpointView(inflight=3), "jw2-3b-b": EndpointView(inflight=0)}
    routes = routing.plan_routes(cluster, "cleaner", "small", views)
    assert [r.worker for r in routes[:2]] == ["jw2-3b-b", "jw2-3b"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    registry = EndpointRegistry(["w"], BreakerConfig(failure_threshold=2, cooldown_s=10), clock)
    for _ in range(2):
        registry.begin("w")
        registry.end("w", "boom")
    assert registry.breaker("w") == "open" and not registry.available("w")
    clock.now += 10
    assert registry.breaker("w") == "half_open" and registry.available("w")
    registry.begin("w")
    assert not registry.available("w"), "half-open lets one trial through at a time"
    registry.end("w", "still down")
    assert registry.breaker("w") == "open"
    clock.now += 10
    registry.begin("w")
    registry.end("w", None)
    assert registry.breaker("w") == "closed" and registry.available("w")


def test_failed_probe_makes_endpoint_unavailable_until_it_answers() -> None:
    registry = EndpointRegistry(["w"], BreakerConfig(), Clock())
    assert registry.available("w")
    registry.record_probe("w", False, "refused")
    assert not registry.available("w")
    registry.record_probe("w", True)
    assert registry.available("w")


async def test_long_prompts_are_judged_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from benchmarks.fakes import FakeVllmServer
    from gateway.http.app import create_app
    from gateway.pipeline import merger
    from tests.gateway.conftest import make_cluster, started_client

    threads: list[tuple[int, int]] = []
    original = merger.clean_prompt

    def recording(*args: object) -> merger.Cleaned:
        threads.append((len(str(args[0])), threading.get_ident()))
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(merger, "clean_prompt", recording)
    fake = FakeVllmServer("base", base_path="/models/base", adapters={"clean-a": "/a", "desc-a": "/d"}).start()
    try:
        cluster = make_cluster(fake.base_url, fake.base_url, overrides={"gateway": {"offload_above_chars": 100}})
        async for client in started_client(create_app(cluster)):
            loop_thread = threading.get_ident()
            for prompt in ("teh short one", "teh long one " * 20):
                assert (await client.post("/refine", json={"prompt": prompt})).status_code == 200
    finally:
        fake.stop()
    by_length = {length: ident for length, ident in threads}
    assert by_length[len("teh short one")] == loop_thread
    assert by_length[len("teh long one " * 20)] != loop_thread
