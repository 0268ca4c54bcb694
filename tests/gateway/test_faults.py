"""Faults: killed and hung workers, the breaker's open/half-open/closed cycle, retries, deadlines, active probes."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer
from config.cluster import BreakerConfig, GatewaySettings, RetryConfig
from gateway.http.app import create_app
from gateway.upstream import readiness
from gateway.upstream.breakers import EndpointRegistry
from gateway.upstream.workers import WorkerPool
from tests.gateway.conftest import make_cluster, started_client

NOISY = "what is the captial of frane"
CLEAN = "What is the capital of France?"


def _answered_more(wanted: int, fake: FakeVllmServer) -> bool:
    return fake.count() >= wanted


def _stage_calls(fake: FakeVllmServer) -> int:
    """Generation requests that were stage calls (active probes carry an `mpr-probe-` request id)."""
    return sum(1 for r in fake.requests() if not (r.request_id or "").startswith("mpr-probe-"))


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = _Clock()
    registry = EndpointRegistry(["w"], BreakerConfig(failure_threshold=2, cooldown_s=5.0), clock)
    for _ in range(2):
        registry.begin("w")
        registry.end("w", "boom")
    assert registry.breaker("w") == "open" and not registry.available("w")
    clock.now = 5.0
    assert registry.breaker("w") == "half_open" and registry.available("w")
    registry.begin("w")
    assert not registry.available("w"), "half-open lets exactly one trial through"
    registry.end("w", "still broken")
    assert registry.breaker("w") == "open", "a failed trial re-opens"
    clock.now = 10.0
    registry.begin("w")
    registry.end("w", None)
    assert registry.breaker("w") == "closed" and registry.available("w")
    assert registry.state("w").consecutive_failures == 0


def test_a_good_probe_closes_a_half_open_breaker_and_a_bad_one_takes_the_endpoint_out() -> None:
    clock = _Clock()
    registry = EndpointRegistry(["w"], BreakerConfig(failure_threshold=1, cooldown_s=1.0), clock)
    registry.begin("w")
    registry.end("w", "boom")
    registry.record_probe("w", True)
    assert registry.breaker("w") == "open", "a probe does not shorten the cool-down"
    clock.now = 1.0
    registry.record_probe("w", True)
    assert registry.breaker("w") == "closed"
    registry.record_probe("w", False, "probe of a: timed out")
    assert not registry.available("w"), "a failed probe takes a closed endpoint out of routing"


async def test_open_primary_gets_nothing_while_the_backup_serves(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    overrides: dict[str, Any] = {"breaker": {"failure_threshold": 2, "cooldown_s": 600.0}}
    with FakeVllmServer("base", adapters={"clean-a": "/a", "desc-a": "/d"}) as backup:
        backup.set_default(Behaviour(reply=CLEAN))
        cleaner_fake.set_default(Behaviour(status=503))
        cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, backup.base_url, overrides=overrides)
        async for client in started_client(create_app(cluster)):
            bodies = [(await client.post("/refine", json={"prompt": NOISY})).json() for _ in range(5)]
    assert [b["stages"]["cleaner"]["worker"] for b in bodies] == ["backup-node"] * 5
    assert {b["cleaned_prompt"] for b in bodies} == {CLEAN}
    assert cleaner_fake.count() == 4, "2 requests x 2 attempts open the breaker; then nothing reaches the primary"


async def test_a_killed_primary_fails_over_and_every_worker_out_still_answers(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    backup = FakeVllmServer("base", adapters={"clean-a": "/a", "desc-a": "/d"}).start()
    backup.set_default(Behaviour(reply=CLEAN))
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, backup.base_url)
    async for client in started_client(create_app(cluster)):
        cleaner_fake.stop()
        over = (await client.post("/refine", json={"prompt": NOISY})).json()
        backup.stop()
        describer_fake.stop()
        response = await client.post("/refine", json={"prompt": NOISY})
    assert over["stages"]["cleaner"]["status"] == "ok"
    assert over["stages"]["cleaner"]["worker"] == "backup-node"
    assert response.status_code == 200
    stages = response.json()["stages"]
    assert stages["cleaner"]["status"] == stages["describer"]["status"] == "fallback"
    assert stages["cleaner"]["reason"]


async def test_hung_primary_is_cut_at_the_attempt_timeout_and_not_retried(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    overrides: dict[str, Any] = {"retry": {"attempts": 3, "backoff_s": 0.0, "attempt_timeout_s": 0.3}}
    with FakeVllmServer("base", adapters={"clean-a": "/a", "desc-a": "/d"}) as backup:
        backup.set_default(Behaviour(reply=CLEAN))
        cleaner_fake.set_default(Behaviour(hang=True))
        cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, backup.base_url, 5.0, overrides)
        async for client in started_client(create_app(cluster)):
            body = (await client.post("/refine", json={"prompt": NOISY})).json()
    cleaner = body["stages"]["cleaner"]
    assert cleaner["status"] == "ok" and cleaner["worker"] == "backup-node"
    assert cleaner["latency_ms"] < 2000, "the backup answered long before the 5 s stage timeout"
    assert cleaner_fake.count() == 1, "a timeout fails over instead of retrying the hung endpoint"


@pytest.mark.parametrize(("status", "calls"), [(400, 1), (404, 1), (429, 2), (500, 2)])
async def test_only_retryable_errors_are_retried(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, status: int, calls: int
) -> None:
    cleaner_fake.set_default(Behaviour(status=status))
    async for client in started_client(create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url))):
        response = await client.post("/refine", json={"prompt": NOISY})
    assert response.status_code == 200
    assert response.json()["stages"]["cleaner"]["status"] == "fallback"
    assert f"HTTP {status}" in response.json()["stages"]["cleaner"]["reason"]
    assert cleaner_fake.count() == calls


async def test_hung_engine_with_healthy_health_is_caught_by_the_adapter_probe(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    overrides: dict[str, Any] = {"gateway": {"probe_adapters": True, "probe_timeout_s": 0.3, "probe_interval_s": 60}}
    cleaner_fake.set_default(Behaviour(hang=True))
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        ready = await client.get("/ready")
        body = (await client.post("/refine", json={"prompt": NOISY})).json()
    health = [r for r in cleaner_fake.requests(paths=None) if r.path == "/health"]
    assert health, "the worker's /health was asked (and answered 200)"
    assert ready.status_code == 503
    endpoint = ready.json()["endpoints"]["cleaner-node"]
    assert endpoint["probe_ok"] is False
    assert "probe of clean-a" in endpoint["last_error"]
    assert ready.json()["endpoints"]["describer-node"]["probe_ok"] is True
    assert body["stages"]["cleaner"]["status"] == "fallback"
    assert body["stages"]["cleaner"]["reason"].startswith("no cleaner endpoint available")
    assert _stage_calls(cleaner_fake) == 0, "a hung endpoint gets no stage calls once a probe caught it"


async def test_a_recent_successful_call_spares_the_adapter_probe(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    overrides: dict[str, Any] = {"gateway": {"probe_adapters": True, "probe_interval_s": 60}}
    cleaner_fake.set_default(Behaviour(reply=CLEAN))
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        # The start-up probe round runs in the background: let it land before counting.
        await cleaner_fake.wait_until_async(lambda fake: fake.count() >= 1)
        await client.post("/refine", json={"prompt": NOISY})
        probes_before = cleaner_fake.count() - _stage_calls(cleaner_fake)
        assert (await client.get("/ready")).status_code == 200
        assert cleaner_fake.count() - _stage_calls(cleaner_fake) == probes_before


async def test_client_deadline_caps_the_stage_timeouts(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    describer_fake.set_default(Behaviour(hang=True))
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, timeout_s=10.0)
    async for client in started_client(create_app(cluster)):
        by_header = await client.post("/refine", json={"prompt": NOISY}, headers={"x-mpr-deadline-ms": "300"})
        by_body = await client.post("/refine", json={"prompt": NOISY, "deadline_ms": 200})
        chat = await client.post(
            "/v1/chat/completions",
            json={"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}], "mpr": {"deadline_ms": 250}},
        )
        bad = await client.post("/refine", json={"prompt": NOISY}, headers={"x-mpr-deadline-ms": "soon"})
    assert by_header.json()["stages"]["describer"]["reason"] == "timed out after 0.3s"
    assert by_body.json()["stages"]["describer"]["reason"] == "timed out after 0.2s"
    assert chat.json()["mpr"]["stages"]["describer"]["reason"] == "timed out after 0.25s"
    assert by_header.json()["latency_ms"] < 2000
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-mpr-deadline-ms"


async def test_configured_deadline_bounds_a_request_that_asks_for_more(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    describer_fake.set_default(Behaviour(hang=True))
    overrides: dict[str, Any] = {"gateway": {"request_timeout_s": 0.4}}
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, timeout_s=10.0, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        body = (await client.post("/refine", json={"prompt": NOISY, "deadline_ms": 60_000})).json()
    assert body["stages"]["describer"]["reason"] == "timed out after 0.4s"


async def test_a_clients_short_deadline_never_counts_against_a_healthy_worker(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    """A stage cut by the client's own deadline is cancelled, not failed: the breaker stays closed for everyone."""
    cleaner_fake.set_default(Behaviour(reply=CLEAN, delay=0.2))
    describer_fake.set_default(Behaviour(delay=0.2))
    app = create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url, timeout_s=5.0))
    async for client in started_client(app):
        for _ in range(5):  # above the breaker's failure threshold (3)
            cut = await client.post("/refine", json={"prompt": NOISY}, headers={"x-mpr-deadline-ms": "1"})
            assert cut.status_code == 200 and cut.json()["stages"]["cleaner"]["reason_class"] == "timeout"
        ready = await client.get("/ready")
        served = (await client.post("/refine", json={"prompt": NOISY})).json()
    assert ready.status_code == 200, ready.json()
    endpoints = ready.json()["endpoints"]
    assert endpoints["cleaner-node"]["breaker"] == "closed"
    assert endpoints["cleaner-node"]["consecutive_failures"] == 0
    assert endpoints["describer-node"]["consecutive_failures"] == 0
    assert served["stages"]["cleaner"]["status"] == "ok", served["stages"]


async def test_the_gateways_own_stage_timeout_still_counts_against_a_hung_worker(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cleaner_fake.set_default(Behaviour(hang=True))
    app = create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url, timeout_s=0.2))
    async for client in started_client(app):
        body = (await client.post("/refine", json={"prompt": NOISY})).json()
        ready = (await client.get("/ready")).json()
    assert body["stages"]["cleaner"]["reason_class"] == "timeout"
    assert ready["endpoints"]["cleaner-node"]["consecutive_failures"] == 1


@pytest.mark.parametrize("malformed", ["text_plain", "invalid_json", "no_choices", "truncated", "reset"])
async def test_a_worker_that_answers_garbage_is_a_fallback_never_a_5xx(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, malformed: str
) -> None:
    cleaner_fake.set_default(Behaviour(malformed=malformed))  # type: ignore[arg-type]
    describer_fake.set_default(Behaviour(malformed=malformed))  # type: ignore[arg-type]
    app = create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url))
    async for client in started_client(app):
        refine = await client.post("/refine", json={"prompt": NOISY})
        chat = await client.post(
            "/v1/chat/completions", json={"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
        )
    assert refine.status_code == 200, refine.text
    assert chat.status_code == 200, chat.text
    for stages in (refine.json()["stages"], chat.json()["mpr"]["stages"]):
        assert stages["cleaner"]["status"] == "fallback"
        assert stages["cleaner"]["reason_class"] in ("protocol", "connection"), stages["cleaner"]
    assert refine.json()["refined_prompt"].startswith("What is the capital of"), "the local cleaner still fixed it"


async def test_a_malformed_probe_reply_does_not_stop_the_probe_task(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    overrides: dict[str, Any] = {"gateway": {"probe_adapters": True, "probe_timeout_s": 1.0, "probe_interval_s": 0.1}}
    cleaner_fake.set_default(Behaviour(malformed="text_plain"))
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        first = await client.get("/ready")
        cleaner_fake.set_default(Behaviour(reply=CLEAN))
        # Two more rounds after the fix: the task is still running and saw the worker recover.
        await cleaner_fake.wait_until_async(functools.partial(_answered_more, cleaner_fake.count() + 2))
        ready = await client.get("/ready")
        metrics = (await client.get("/metrics")).text
    assert first.status_code == 503 and first.json()["endpoints"]["cleaner-node"]["probe_ok"] is False
    assert ready.status_code == 200, ready.json()
    assert "mpr_probe_errors_total" in metrics


async def test_a_probe_round_that_raises_is_logged_counted_and_the_next_round_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rounds: list[int] = []
    three = asyncio.Event()

    async def boom(*args: object) -> None:
        rounds.append(len(rounds))
        if len(rounds) >= 3:
            three.set()
        raise RuntimeError("a reply no check foresaw")

    monkeypatch.setattr(readiness, "probe_all", boom)
    errors: list[Exception] = []
    pool = WorkerPool([], RetryConfig())
    prober = readiness.Prober(
        pool, EndpointRegistry([], BreakerConfig()), GatewaySettings(probe_interval_s=0.01), errors.append
    )
    task = asyncio.create_task(prober.run_forever())
    try:
        await asyncio.wait_for(three.wait(), 5.0)
    finally:
        task.cancel()
        await pool.aclose()
    assert prober.first_round.is_set()
    assert len(errors) >= 2 and all(isinstance(e, RuntimeError) for e in errors)


async def test_ready_answers_from_the_last_probe_results_without_calling_the_workers(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    overrides: dict[str, Any] = {"gateway": {"probe_adapters": True, "probe_interval_s": 60}}
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        assert (await client.get("/ready")).status_code == 200
        before = len(cleaner_fake.requests(paths=None)) + len(describer_fake.requests(paths=None))
        for _ in range(5):
            assert (await client.get("/ready")).status_code == 200
        after = len(cleaner_fake.requests(paths=None)) + len(describer_fake.requests(paths=None))
    assert after == before, "five /ready calls sent nothing to the workers"
