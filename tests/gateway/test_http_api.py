"""The gateway's HTTP API against fake vLLM workers: shapes, stages, errors, concurrency and faults."""

from __future__ import annotations

import asyncio
import json
import math

import httpx
import pytest
from pydantic import SecretStr

from benchmarks.fakes import Behaviour, FakeVllmServer
from config import Cluster
from gateway.http.app import create_app
from tests.gateway.conftest import CLEANER_PROMPT, make_cluster, started_client

NOISY = "what is the captial of frane"
BACKGROUND = "France is a country in Western Europe. Its capital city is Paris."


async def test_refine_runs_both_stages_and_merges(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?"))
    describer_fake.set_default(Behaviour(reply=BACKGROUND))
    response = await client.post("/refine", json={"prompt": NOISY, "run_id": "run-42", "idempotency_key": "k1"})
    assert response.status_code == 200
    body = response.json()
    assert body["run_id"] == "run-42"
    assert body["cleaned_prompt"] == "What is the capital of France?"
    assert body["cleaner_output"] == "What is the capital of France?"
    assert body["describer_output"] == BACKGROUND
    assert body["refined_prompt"].startswith("What is the capital of France?\n\n")
    assert "- France is a country in Western Europe." in body["refined_prompt"]
    assert body["stages"]["cleaner"]["status"] == "ok"
    assert body["stages"]["describer"]["status"] == "ok"
    assert body["latency_ms"] > 0
    assert body["usage"]["total_tokens"] > 0
    assert response.headers["x-mpr-run-id"] == "run-42"
    sent = cleaner_fake.last_request
    assert sent.model == "clean-a"
    assert sent.body is not None
    assert sent.body["messages"][0] == {"role": "system", "content": CLEANER_PROMPT}
    assert sent.body["messages"][1]["content"] == f"<prompt>\n{NOISY}\n</prompt>"
    assert sent.body["temperature"] == 0.0
    assert describer_fake.last_request.model == "desc-a"


async def test_every_worker_call_gets_its_own_request_id(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    response = await client.post("/refine", json={"prompt": NOISY}, headers={"x-request-id": "client-7"})
    assert response.headers["x-request-id"] == "client-7"
    ids = [cleaner_fake.last_request.request_id, describer_fake.last_request.request_id]
    assert all(i is not None and i.startswith("client-7-") for i in ids)
    assert len(set(ids)) == 2


async def test_clean_prompt_skips_cleaner(client: httpx.AsyncClient, cleaner_fake: FakeVllmServer) -> None:
    response = await client.post("/refine", json={"prompt": "What is the capital of France?"})
    body = response.json()
    assert body["stages"]["cleaner"]["status"] == "skipped"
    assert body["stages"]["cleaner"]["reason"]
    assert body["cleaned_prompt"] == "What is the capital of France?"
    assert cleaner_fake.count() == 0


async def test_stages_run_concurrently(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    # Each stage waits on a gate: the request can only finish if both calls were in flight together.
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?", gate="go"))
    describer_fake.set_default(Behaviour(reply=BACKGROUND, gate="go"))
    pending = asyncio.create_task(client.post("/refine", json={"prompt": NOISY}))
    await cleaner_fake.wait_until_async(lambda f: f.in_flight() == 1)
    await describer_fake.wait_until_async(lambda f: f.in_flight() == 1)
    cleaner_fake.open_gate("go")
    describer_fake.open_gate("go")
    body = (await pending).json()
    assert {body["stages"][s]["status"] for s in ("cleaner", "describer")} == {"ok"}


async def test_two_slow_stages_take_the_time_of_one(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cleaner_fake.set_default(Behaviour(delay=0.2))
    describer_fake.set_default(Behaviour(delay=0.2))
    body = (await client.post("/refine", json={"prompt": NOISY})).json()
    cleaner, describer = (body["stages"][s]["latency_ms"] for s in ("cleaner", "describer"))
    assert min(cleaner, describer) >= 200
    # Relative, not absolute, so a loaded machine cannot fail it: one after the other would take their sum.
    assert body["latency_ms"] < cleaner + describer, "the stages ran one after the other"


async def test_hanging_stage_is_bounded_by_its_timeout(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?"))
    describer_fake.set_default(Behaviour(hang=True))
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, timeout_s=0.5)
    async for client in started_client(create_app(cluster)):
        response = await client.post("/refine", json={"prompt": NOISY})
        body = response.json()
        assert response.status_code == 200
        assert body["stages"]["describer"]["status"] == "fallback"
        assert "timed out after 0.5s" in body["stages"]["describer"]["reason"]
        assert body["stages"]["cleaner"]["status"] == "ok"
        assert body["latency_ms"] < 5000


async def test_dead_worker_falls_back_to_the_original(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url)
    cleaner_fake.stop()
    describer_fake.stop()
    async for client in started_client(create_app(cluster)):
        response = await client.post("/refine", json={"prompt": NOISY})
        assert response.status_code == 200
        body = response.json()
        assert body["stages"]["cleaner"]["status"] == "fallback"
        assert body["stages"]["describer"]["status"] == "fallback"
        assert "connection" in body["stages"]["cleaner"]["reason"]
        assert body["refined_prompt"].lower().startswith("what is the ")
        assert "\n" not in body["refined_prompt"], "no background block without a describer"


async def test_failing_primary_fails_over_to_backup(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    with FakeVllmServer("base", adapters={"clean-a": "/a", "desc-a": "/d"}) as backup:
        backup.set_default(Behaviour(reply="What is the capital of France?"))
        cleaner_fake.set_default(Behaviour(status=500))
        cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, backup.base_url)
        async for client in started_client(create_app(cluster)):
            body = (await client.post("/refine", json={"prompt": NOISY})).json()
            cleaner = body["stages"]["cleaner"]
            assert cleaner["status"] == "ok"
            assert cleaner["worker"] == "backup-node"
            assert "failed over to backup-node" in cleaner["reason"]
            assert cleaner_fake.count() == 2, "one retry on the primary, then the backup"
            assert body["cleaned_prompt"] == "What is the capital of France?"


async def test_worker_api_key_is_sent(describer_fake: FakeVllmServer) -> None:
    with FakeVllmServer("base", adapters={"clean-a": "/a"}, api_key="s3cret") as locked:
        locked.set_default(Behaviour(reply="What is the capital of France?"))
        cluster = make_cluster(locked.base_url, describer_fake.base_url)
        workers = [
            w.model_copy(update={"api_key": SecretStr("s3cret")}) if w.name == "cleaner-node" else w
            for w in cluster.workers
        ]
        cluster = cluster.model_copy(update={"workers": workers})
        async for client in started_client(create_app(cluster)):
            body = (await client.post("/refine", json={"prompt": NOISY})).json()
            assert body["stages"]["cleaner"]["status"] == "ok"
            assert locked.last_request.authorization == "Bearer s3cret"


async def test_chat_completion_shape(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?"))
    describer_fake.set_default(Behaviour(reply=BACKGROUND))
    request = {
        "model": "mpr-refine",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "earlier question"},
            {"role": "assistant", "content": "earlier answer"},
            {"role": "user", "content": [{"type": "text", "text": NOISY}]},
        ],
        "some_unknown_field": {"kept": True},
    }
    response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "mpr-refine"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == body["mpr"]["refined_prompt"]
    assert body["mpr"]["cleaned_prompt"] == "What is the capital of France?"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert response.headers["x-mpr-stages"] == "cleaner=ok;describer=ok"


async def test_stages_can_be_limited_by_header_and_body(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    base = {"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
    off = await client.post("/v1/chat/completions", json=base, headers={"x-mpr-stages": "none"})
    assert off.json()["choices"][0]["message"]["content"] == NOISY
    assert cleaner_fake.count() + describer_fake.count() == 0
    only = await client.post("/v1/chat/completions", json={**base, "mpr": {"stages": ["describer"]}})
    assert only.json()["mpr"]["stages"]["cleaner"]["reason"] == "not requested"
    assert describer_fake.count() == 1
    assert cleaner_fake.count() == 0


def parse_sse(text: str) -> list[str]:
    assert text.endswith("\n\n")
    events = [block for block in text.split("\n\n") if block]
    assert all(e.startswith("data: ") for e in events)
    return [e[len("data: ") :] for e in events]


async def test_streaming_framing_with_usage(client: httpx.AsyncClient, cleaner_fake: FakeVllmServer) -> None:
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?"))
    request = {
        "model": "mpr-refine",
        "messages": [{"role": "user", "content": NOISY}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == chunks[-2]["mpr"]["refined_prompt"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_streaming_without_usage_has_no_usage_chunk(client: httpx.AsyncClient) -> None:
    request = {"model": "mpr-refine", "messages": [{"role": "user", "content": "Hello."}], "stream": True}
    events = parse_sse((await client.post("/v1/chat/completions", json=request)).text)
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)


@pytest.mark.parametrize(
    ("path", "payload", "status", "param"),
    [
        ("/refine", b"{not json", 400, None),
        ("/refine", b"[1, 2]", 400, None),
        ("/refine", b"{}", 400, "prompt"),
        ("/refine", b'{"prompt": 5}', 400, "prompt"),
        ("/refine", b'{"prompt": "   "}', 400, "prompt"),
        ("/refine", b'{"prompt": "hi", "tier": "huge"}', 400, "tier"),
        ("/v1/chat/completions", b'{"model": "mpr-refine", "messages": []}', 400, "messages"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        ("/v1/chat/completions", b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        (
            "/v1/chat/completions",
            b'{"model": "mpr-refine", "messages": [{"role": "system", "content": "x"}]}',
            400,
            "messages",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "mpr-refine", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}',
            400,
            "stream_options",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "mpr-refine", "messages": [{"role": "user", "content": "x"}], "mpr": {"stages": ["poet"]}}',
            400,
            "mpr.stages",
        ),
    ],
)
async def test_bad_input_gets_openai_error_shape(
    client: httpx.AsyncClient, path: str, payload: bytes, status: int, param: str | None
) -> None:
    response = await client.post(path, content=payload, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert response.headers["x-should-retry"] == "false"


async def test_too_long_prompt_is_rejected(cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer) -> None:
    cluster = make_cluster(
        cleaner_fake.base_url, describer_fake.base_url, overrides={"gateway": {"max_prompt_chars": 10}}
    )
    async for client in started_client(create_app(cluster)):
        response = await client.post("/refine", json={"prompt": "x" * 11})
        assert response.status_code == 400
        assert "limit is 10" in response.json()["error"]["message"]
        assert cleaner_fake.count() == 0


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v2/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await client.get("/refine")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "invalid_request_error"


async def test_models_health_ready_metrics(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cleaner_fake.set_default(Behaviour(reply="What is the capital of France?"))
    models = (await client.get("/v1/models")).json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["mpr-refine"]
    assert (await client.get("/health")).status_code == 200
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["stages"]["cleaner"]["reachable_endpoints"] == ["cleaner-node"]
    await client.post("/refine", json={"prompt": NOISY})
    metrics = (await client.get("/metrics")).text
    assert 'mpr_stage_outcomes_total{reason="served",stage="cleaner",status="ok"} 1.0' in metrics
    assert 'mpr_requests_total{model="mpr-refine",route="/refine",status="200"} 1.0' in metrics
    describer_fake.stop()
    not_ready = await client.get("/ready")
    for _ in range(100):  # /ready reads the probe task's results: the next round (every 0.2 s) sees the stop
        if not_ready.status_code == 503:
            break
        await asyncio.sleep(0.05)
        not_ready = await client.get("/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["stages"]["describer"]["reachable"] is False


async def test_cleaner_token_budget_follows_the_prompt_length(
    client: httpx.AsyncClient, cluster: Cluster, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    await client.post("/refine", json={"prompt": NOISY})
    cleaner_body = cleaner_fake.last_request.body
    describer_body = describer_fake.last_request.body
    assert cleaner_body is not None
    assert describer_body is not None
    budget = math.ceil(len(NOISY) / 3 * cluster.merger.max_length_ratio) + 8
    assert cleaner_body["max_tokens"] == budget < cluster.decoding.max_tokens
    assert describer_body["max_tokens"] == cluster.decoding.max_tokens


async def test_after_startup_runs_once_after_the_state_is_built(cluster: Cluster) -> None:
    seen: list[bool] = []
    app = create_app(cluster, after_startup=lambda: seen.append(hasattr(app.state, "gateway")))
    assert seen == []  # nothing at construction
    async for client in started_client(app):
        assert (await client.get("/health")).status_code == 200
    assert seen == [True]


@pytest.mark.parametrize(
    ("path", "raw", "param"),
    [
        ("/refine", b'{"prompt": "hello \\ud800"}', "prompt"),
        ("/refine", b'{"prompt": "hi", "note": {"x": ["\\udfff"]}}', "note.x.0"),
        (
            "/v1/chat/completions",
            b'{"model": "mpr-refine", "messages": [{"role": "user", "content": "hello \\ud83d"}]}',
            "messages.0.content",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "mpr-refine", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud800"}]}'
            b"]}",
            "messages.0.content.0.text",
        ),
    ],
)
async def test_a_lone_surrogate_is_a_400_naming_the_field(
    client: httpx.AsyncClient, cleaner_fake: FakeVllmServer, path: str, raw: bytes, param: str
) -> None:
    response = await client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and "surrogate" in error["message"]
    assert error["type"] == "invalid_request_error"
    assert cleaner_fake.count() == 0, "nothing went to a worker"


async def test_a_valid_surrogate_pair_is_ordinary_text(client: httpx.AsyncClient) -> None:
    raw = b'{"prompt": "what does \\ud83d\\ude00 mean"}'
    response = await client.post("/refine", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert "\U0001f600" in response.json()["original_prompt"]
