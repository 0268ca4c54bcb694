"""Metrics values on /metrics, the per-request JSON log line, and the Grafana dashboard's metric names."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.fakes import Behaviour, FakeVllmServer
from gateway.http.app import create_app
from gateway.http.logs import JsonFormatter
from gateway.http.state import GatewayState
from tests.gateway.conftest import make_cluster, started_client

NOISY = "what is the captial of frane"
CLEAN = "What is the capital of France?"
ARITHMETIC = "What is 17 * 23?"
BACKGROUND = "France is a country in Western Europe. Its capital city is Paris."
DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "mpr-gateway.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def gateway(cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer) -> AsyncIterator[httpx.AsyncClient]:
    cleaner_fake.set_default(Behaviour(reply=CLEAN))
    describer_fake.set_default(Behaviour(reply=BACKGROUND))
    overrides = {"breaker": {"failure_threshold": 1, "cooldown_s": 600}}
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        yield client


def state_of(client: httpx.AsyncClient) -> GatewayState:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    state: GatewayState = transport.app.state.gateway  # type: ignore[attr-defined]
    return state


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return parse(response.text)


async def test_request_and_stage_metrics_have_the_right_values(gateway: httpx.AsyncClient) -> None:
    usage_in = 0
    for prompt in (NOISY, NOISY, ARITHMETIC):
        body = (await gateway.post("/refine", json={"prompt": prompt})).json()
        usage_in += body["usage"]["prompt_tokens"]
    chat = {"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
    usage_in += (await gateway.post("/v1/chat/completions", json=chat)).json()["usage"]["prompt_tokens"]
    assert (await gateway.post("/refine", json={"prompt": "  "})).status_code == 400
    assert (await gateway.post("/v1/chat/completions", json={**chat, "model": "gpt-9"})).status_code == 404
    assert (await gateway.get("/no/such/route")).status_code == 404
    samples = await scrape(gateway)

    assert value(samples, "mpr_requests_total", route="/refine", model="mpr-refine", status="200") == 3
    assert value(samples, "mpr_requests_total", route="/v1/chat/completions", model="mpr-refine", status="200") == 1
    assert value(samples, "mpr_requests_total", route="/refine", model="none", status="400") == 1
    assert value(samples, "mpr_requests_total", route="/v1/chat/completions", model="none", status="404") == 1
    assert value(samples, "mpr_requests_total", route="unmatched", model="none", status="404") == 1
    assert value(samples, "mpr_request_latency_seconds_count", route="/refine") == 4
    assert value(samples, "mpr_refine_latency_seconds_count") == 4
    for stage in ("cleaner", "describer"):
        assert value(samples, "mpr_stage_outcomes_total", stage=stage, status="ok", reason="served") == 3
        assert value(samples, "mpr_stage_outcomes_total", stage=stage, status="skipped", reason="arbiter") == 1
        assert value(samples, "mpr_stage_latency_seconds_count", stage=stage) == 3
    assert value(samples, "mpr_worker_calls_total", endpoint="cleaner-node", result="ok") == 3
    assert value(samples, "mpr_worker_calls_total", endpoint="describer-node", result="ok") == 3
    tokens_in = sum(value(samples, "mpr_stage_tokens_total", stage=s, direction="in") for s in ("cleaner", "describer"))
    assert tokens_in == usage_in > 0
    assert value(samples, "mpr_stage_tokens_total", stage="cleaner", direction="out") > 0
    assert value(samples, "mpr_endpoint_breaker_state", endpoint="cleaner-node", state="closed") == 1
    assert value(samples, "mpr_idempotent_replays_total", route="/refine") == 0


async def test_failures_breaker_inflight_and_replays(
    gateway: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    describer_fake.set_default(Behaviour(status=500))
    body = (await gateway.post("/refine", json={"prompt": NOISY})).json()
    assert body["stages"]["describer"]["status"] == "fallback"
    cleaner_fake.set_default(Behaviour(reply=CLEAN, gate="hold"))
    pending = asyncio.create_task(gateway.post("/refine", json={"prompt": NOISY}))
    await cleaner_fake.wait_until_async(lambda f: f.in_flight() == 1)
    during = await scrape(gateway)
    cleaner_fake.open_gate("hold")
    assert (await pending).status_code == 200
    keyed = {"prompt": NOISY, "idempotency_key": "observed"}
    replays = [(await gateway.post("/refine", json=keyed)).headers["x-idempotent-replay"] for _ in range(3)]
    assert replays == ["false", "true", "true"]
    after = await scrape(gateway)

    assert value(during, "mpr_endpoint_inflight", endpoint="cleaner-node") == 1
    assert value(during, "mpr_requests_in_flight") == 2, "the held request and the scrape itself"
    assert value(after, "mpr_endpoint_inflight", endpoint="cleaner-node") == 0
    assert value(after, "mpr_requests_in_flight") == 1
    # Two attempts (retry layer), both HTTP 500: one failed call for the breaker (threshold 1), now open.
    assert value(after, "mpr_worker_calls_total", endpoint="describer-node", result="http_5xx") == 2
    assert value(after, "mpr_endpoint_breaker_state", endpoint="describer-node", state="open") == 1
    assert value(after, "mpr_endpoint_breaker_state", endpoint="describer-node", state="closed") == 0
    assert value(after, "mpr_endpoint_available", endpoint="describer-node") == 0
    assert value(after, "mpr_stage_outcomes_total", stage="describer", status="fallback", reason="http_error") == 1
    # The held request and the first keyed one found the breaker open; the two replays ran no pipeline.
    assert value(after, "mpr_stage_outcomes_total", stage="describer", status="fallback", reason="unavailable") == 2
    assert value(after, "mpr_idempotent_replays_total", route="/refine") == 2


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mpr.gateway" and r.getMessage() == "request"]


async def test_one_json_log_line_per_request_without_prompt_text(
    gateway: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mpr.gateway")
    headers = {"x-request-id": "client-9"}
    response = await gateway.post("/refine", json={"prompt": NOISY, "run_id": "run-9"}, headers=headers)
    assert response.status_code == 200
    await gateway.post("/refine", json={"prompt": ""})
    await gateway.get("/health")
    records = request_records(caplog)
    assert len(records) == 2, "one line per API request; probes are not logged at info"
    line = JsonFormatter().format(records[0])
    fields: dict[str, Any] = json.loads(line)
    assert fields["route"] == "/refine"
    assert fields["status"] == 200
    assert fields["model"] == "mpr-refine"
    assert fields["run_id"] == "run-9"
    assert fields["request_id"] == "client-9"
    assert fields["latency_ms"] > 0
    assert fields["stages"]["cleaner"]["status"] == "ok"
    assert fields["stages"]["cleaner"]["worker"] == "cleaner-node"
    assert fields["stages"]["describer"]["reason_class"] == "served"
    assert fields["stages"]["describer"]["ms"] >= 0
    for word in ("captial", "frane", "capital", "France"):
        assert word not in line
    error = json.loads(JsonFormatter().format(records[1]))
    assert (error["route"], error["status"], error["model"]) == ("/refine", 400, "none")


async def test_prompt_text_is_logged_only_when_enabled(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mpr.gateway")
    overrides = {"gateway": {"log_prompts": True}}
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    async for client in started_client(create_app(cluster)):
        await client.post("/refine", json={"prompt": NOISY})
    fields = json.loads(JsonFormatter().format(request_records(caplog)[0]))
    assert fields["prompt"] == NOISY
    assert "reason" in fields["stages"]["cleaner"]


def exported_names(text: str) -> set[str]:
    """Every series name /metrics can carry, including families that have no sample yet."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    return names


def dashboard_exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for v in node.values() for e in dashboard_exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in dashboard_exprs(v)]
    return []


async def test_dashboard_references_only_exported_metrics(gateway: httpx.AsyncClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = dashboard_exprs(dashboard)
    assert len(dashboard["panels"]) >= 8 and len(exprs) >= 10
    exported = exported_names((await gateway.get("/metrics")).text)
    referenced = {name for expr in exprs for name in re.findall(r"\bmpr_[a-z_]+", expr)}
    assert referenced, "the dashboard queries no gateway metric"
    assert referenced <= exported, f"not exported: {sorted(referenced - exported)}"
    families = {n for n in exported if not n.endswith(("_bucket", "_count", "_sum", "_created", "_total"))}
    unused = {f for f in families if not any(r.startswith(f) for r in referenced)}
    assert not unused, f"metrics without a panel: {sorted(unused)}"
