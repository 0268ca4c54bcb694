"""The pure pipeline parts: arbiter decisions, router ordering, merger guards and the breaker."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Cluster, MprEnvironment, load_cluster
from config.cluster import ArbiterConfig, BreakerConfig, MergerConfig, RoutingConfig
from gateway.endpoints import EndpointRegistry
from gateway.pipeline import arbiter, merger, router
from gateway.pipeline.outcomes import Route
from gateway.pipeline.router import EndpointView

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    import os

    os.environ.setdefault("MPR_WORKER_API_KEY", "k")
    return load_cluster(CONFIG_DIR / "cluster.example.yaml", MprEnvironment(home=tmp_path_factory.mktemp("h")))


@pytest.mark.parametrize(
    "prompt",
    ["What is the capital of France?", "Explain how photosynthesis works.", "Summarise the attached report."],
)
def test_clean_prompt_skips_cleaner(prompt: str, example: Cluster) -> None:
    decisions = arbiter.decide(prompt, example.stages, example.arbiter)
    assert not decisions["cleaner"].run
    assert decisions["cleaner"].reason == "looks clean"


@pytest.mark.parametrize(
    ("prompt", "cue"),
    [
        ("what is the captial of frane", "starts lower-case"),
        ("Why dont plants grow in the dark?", "missing apostrophe"),
        ("Can i ask about Rome?", "lower-case 'i'"),
        ("Tell me about Paris  and Lyon.", "doubled spaces"),
        ("Wow, that is amazzzing!!!", "repeated punctuation"),
    ],
)
def test_noisy_prompt_runs_cleaner_with_reason(prompt: str, cue: str, example: Cluster) -> None:
    decision = arbiter.decide(prompt, example.stages, example.arbiter)["cleaner"]
    assert decision.run
    assert cue in decision.reason


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("What is 12 * (3 + 4)?", "arithmetic"),
        ("def add(a, b):\n    return a + b", "code"),
        ("Hi there!", "chit-chat"),
        ("Rewrite this sentence in a formal tone: we is late.", "task on given text"),
    ],
)
def test_describer_skips_tasks_that_need_no_background(prompt: str, reason: str) -> None:
    assert arbiter.describer_skip_reason(prompt, ArbiterConfig()) == reason


def test_describer_runs_for_entities(example: Cluster) -> None:
    decision = arbiter.decide("Who was Marie Curie and what did she discover?", example.stages, example.arbiter)
    assert decision["describer"].run


def test_disabled_arbiter_runs_everything(example: Cluster) -> None:
    decisions = arbiter.decide("What is 2+2?", example.stages, ArbiterConfig(enabled=False))
    assert all(d.run for d in decisions.values())


def test_tier_policy() -> None:
    config = RoutingConfig(default_tier="small", large_above_chars=20)
    assert router.choose_tier("short", config) == "small"
    assert router.choose_tier("x" * 21, config) == "large"
    assert router.choose_tier("x" * 21, config, pinned="small") == "small"


def test_routes_primary_then_backup_then_other_tier(example: Cluster) -> None:
    routes = router.plan_routes(example, "cleaner", "small", {})
    assert [(r.worker, r.adapter) for r in routes] == [
        ("jw2-3b", "grammar-3b"),
        ("kcloud-3b", "grammar-3b"),
        ("jw2-8b", "grammar-8b"),
        ("kcloud-8b", "grammar-8b"),
    ]


def test_routes_skip_unavailable_and_prefer_adapter_order(example: Cluster) -> None:
    views = {"jw3-3b": EndpointView(available=False)}
    routes = router.plan_routes(example, "describer", "small", views)
    assert routes[0] == Route("kcloud-3b", "wikidata-3b", "small", "backup")
    assert all(r.worker != "jw3-3b" for r in routes)


def test_least_busy_replica_first(example: Cluster) -> None:
    replica = example.workers[0].model_copy(update={"name": "jw2-3b-b"})
    cluster = example.model_copy(update={"workers": [*example.workers, replica]})
    views = {"jw2-3b": EndpointView(inflight=3), "jw2-3b-b": EndpointView(inflight=0)}
    routes = router.plan_routes(cluster, "cleaner", "small", views)
    assert [r.worker for r in routes[:2]] == ["jw2-3b-b", "jw2-3b"]


CONFIG = MergerConfig()


def test_merger_accepts_a_correction() -> None:
    merged = merger.merge("what is the captial of frane", "What is the capital of France?", None, CONFIG)
    assert merged.cleaned_prompt == "What is the capital of France?"
    assert merged.cleaner is not None and merged.cleaner.accepted
    assert merged.refined_prompt == merged.cleaned_prompt


@pytest.mark.parametrize(
    ("original", "output", "reason"),
    [
        ("what is the captial of frane", "", "empty output"),
        ("what is the captial of frane", "Paris is the capital of France, a country in Western Europe.", "answered"),
        ("what is the captial of frane", "Sure! The capital of France is Paris.", "answered"),
        ("fix my sentense please", "Write a poem about the sea.", "drift"),
        ("tell me about rome", "Tell me about Rome. " * 5, "length ratio"),
    ],
)
def test_merger_rejects_outputs_that_change_the_request(original: str, output: str, reason: str) -> None:
    merged = merger.merge(original, output, None, CONFIG)
    assert merged.cleaned_prompt == original
    assert merged.cleaner is not None and not merged.cleaner.accepted
    assert reason in merged.cleaner.reason


def test_merger_strips_wrapping_and_labels() -> None:
    merged = merger.merge("helo world", "<prompt>\nCorrected: Hello world.\n</prompt>", None, CONFIG)
    assert merged.cleaned_prompt == "Hello world."


def test_knowledge_block_is_labelled_deduplicated_and_capped() -> None:
    text = "Paris is the capital of France. Paris is the capital of France.\nFrance is in Europe. " + " ".join(
        f"Fact {i} is true." for i in range(10)
    )
    merged = merger.merge("What is the capital of France?", None, text, CONFIG)
    assert merged.refined_prompt.startswith("What is the capital of France?\n\n" + CONFIG.knowledge_label)
    assert merged.knowledge[:2] == ["Paris is the capital of France.", "France is in Europe."]
    assert len(merged.knowledge) == CONFIG.knowledge_max_lines
    assert merged.describer is not None and merged.describer.accepted


def test_knowledge_that_restates_the_prompt_is_dropped() -> None:
    merged = merger.merge("What is the capital of France?", None, "What is the capital of France?", CONFIG)
    assert merged.knowledge == []
    assert merged.refined_prompt == "What is the capital of France?"
    assert merged.describer is not None and not merged.describer.accepted


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
