"""Tests of the fake vLLM 0.32 worker, driven by the real openai client over loopback HTTP."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer, extract_prompt
from benchmarks.fakes.vllm_server import main as fake_main

BASE = "smollm2-135m"
ADAPTERS = {"demo-cleaner": "/tmp/adapters/cleaner", "demo-describer": "/tmp/adapters/describer"}


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def fake() -> Iterator[FakeVllmServer]:
    with FakeVllmServer(BASE, base_path="/models/smollm2", max_model_len=512, adapters=ADAPTERS) as server:
        yield server


@pytest.fixture
def client(fake: FakeVllmServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url, api_key="unused", max_retries=0, timeout=10) as c:
        yield c


def test_non_streaming_chat_matches_vllm_shape(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    out = client.chat.completions.create(
        model="demo-cleaner", messages=_user("Clean this: <prompt>  the cat  sat </prompt>")
    )
    assert out.id.startswith("chatcmpl-")
    assert out.object == "chat.completion"
    assert out.model == "demo-cleaner"
    assert out.choices[0].message.content == "The cat sat."
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (7, 4, 11)
    assert out.system_fingerprint == fake.fingerprint

    raw = httpx.post(f"{fake.base_url}/chat/completions", json={"model": BASE, "messages": _user("hi")})
    body = raw.json()
    assert list(body) == [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "service_tier",
        "system_fingerprint",
        "usage",
        "prompt_logprobs",
        "prompt_token_ids",
        "prompt_text",
        "kv_transfer_params",
        "ec_transfer_params",
        "metrics",
    ]
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hi.",
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": None,
    }
    assert body["choices"][0]["stop_reason"] is None
    assert body["usage"]["prompt_tokens_details"] is None


def test_streaming_with_include_usage(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    fake.set_default(Behaviour(reply="one two three"))
    stream = client.chat.completions.create(
        model=BASE, messages=_user("a b"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in chunks[1:4]] == ["one", " two", " three"]
    assert chunks[4].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (2, 4)
    assert len({c.id for c in chunks}) == 1
    assert all(c.usage is None for c in chunks[:-1])


def test_raw_stream_events_end_with_done(fake: FakeVllmServer) -> None:
    fake.set_default(Behaviour(reply="x y"))
    body = {"model": BASE, "messages": _user("q"), "stream": True}
    with httpx.stream("POST", f"{fake.base_url}/chat/completions", json=body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [line for line in resp.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    first = json.loads(events[0].removeprefix("data: "))
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "usage" not in json.loads(events[1].removeprefix("data: "))
    final = json.loads(events[-2].removeprefix("data: "))
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["system_fingerprint"] == fake.fingerprint


def test_models_list(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert set(models) == {BASE, *ADAPTERS}
    base = models[BASE].model_dump()
    assert base["owned_by"] == "vllm"
    assert base["root"] == "/models/smollm2"
    assert base["parent"] is None
    assert base["max_model_len"] == 512
    assert base["permission"][0]["object"] == "model_permission"
    cleaner = models["demo-cleaner"].model_dump()
    assert cleaner["root"] == ADAPTERS["demo-cleaner"]
    assert cleaner["parent"] == BASE
    assert cleaner["max_model_len"] is None


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="nope", messages=_user("x"))
    assert info.value.body == {
        "message": "The model `nope` does not exist. Valid aliases: smollm2-135m.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }


def test_scripted_500_and_dead(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    fake.enqueue(Behaviour(status=500))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=BASE, messages=_user("x"))
    assert client.chat.completions.create(model=BASE, messages=_user("ok")).choices[0].message.content == "Ok."
    fake.set_dead(True)
    assert httpx.get(f"{fake.url}/health").status_code == 503
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=BASE, messages=_user("x"))
    assert "EngineCore" in str(info.value)


def test_hang_is_bounded_by_client_timeout(fake: FakeVllmServer) -> None:
    fake.set_model_behaviour("demo-describer", Behaviour(hang=True))
    with (
        openai.OpenAI(base_url=fake.base_url, api_key="x", max_retries=0, timeout=0.3) as c,
        pytest.raises(openai.APITimeoutError),
    ):
        c.chat.completions.create(model="demo-describer", messages=_user("x"))
    fake.wait_until(lambda f: f.cancelled == 1)
    started = time.monotonic()
    fake.enqueue(Behaviour(hang=True))
    threading.Thread(target=_post_ignoring_errors, args=(fake.base_url,), daemon=True).start()
    fake.wait_for_requests(2)
    fake.stop()
    assert time.monotonic() - started < 3


def _post_ignoring_errors(base_url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{base_url}/chat/completions", json={"model": BASE, "messages": _user("x")}, timeout=30)


def test_drop_and_mid_stream_failure(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    fake.enqueue(Behaviour(drop=True))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=BASE, messages=_user("x"))
    fake.enqueue(Behaviour(reply="a b c d", fail_after_tokens=2))
    got: list[str] = []
    stream = client.chat.completions.create(model=BASE, messages=_user("x"), stream=True)
    with pytest.raises(openai.APIError, match="Internal server error"):
        _collect(stream, got)
    assert "".join(got) == "a b"
    fake.enqueue(Behaviour(reply="a b c d", fail_after_tokens=1, fail_mode="close"))
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        list(client.chat.completions.create(model=BASE, messages=_user("x"), stream=True))


def _collect(stream: openai.Stream[Any], into: list[str]) -> None:
    for chunk in stream:
        into.append(chunk.choices[0].delta.content or "")


def test_health_empty_body_and_recording(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    health = httpx.get(f"{fake.url}/health")
    assert (health.status_code, health.content) == (200, b"")
    client.chat.completions.create(model="demo-cleaner", messages=_user("x"), extra_headers={"X-Request-Id": "abc123"})
    client.chat.completions.create(model=BASE, messages=_user("y"))
    recs = fake.wait_for_requests(2)
    assert [r.model for r in recs] == ["demo-cleaner", BASE]
    assert recs[0].request_id == "abc123"
    assert recs[0].authorization == "Bearer unused"
    assert recs[0].body["messages"] == _user("x")
    assert fake.counts() == {"demo-cleaner": 1, BASE: 1}
    assert fake.requests(paths=None)[0].path == "/health"
    metrics = httpx.get(f"{fake.url}/metrics").text
    assert f'vllm:request_success_total{{engine="0",finished_reason="stop",model_name="{BASE}"}} 2.0' in metrics


def test_x_request_id_becomes_response_id(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model=BASE, messages=_user("x"), extra_headers={"X-Request-Id": "r1"})
    assert out.id == "chatcmpl-r1"


def test_max_tokens_truncation(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    fake.set_default(Behaviour(reply="one two three four"))
    out = client.chat.completions.create(model=BASE, messages=_user("x"), max_tokens=2)
    assert (out.choices[0].message.content, out.choices[0].finish_reason) == ("one two", "length")
    assert out.usage is not None and out.usage.completion_tokens == 2
    out = client.chat.completions.create(model=BASE, messages=_user("x"), max_completion_tokens=4)
    assert out.choices[0].finish_reason == "length"
    chunks = list(client.chat.completions.create(model=BASE, messages=_user("x"), max_tokens=1, stream=True))
    assert [c.choices[0].finish_reason for c in chunks] == [None, "length"]
    probe = client.completions.create(model="demo-describer", prompt="ping", max_tokens=1)
    assert probe.object == "text_completion"
    assert (probe.choices[0].text, probe.choices[0].finish_reason) == ("one", "length")


def test_callable_reply_and_per_model_behaviour(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    fake.set_model_behaviour("demo-describer", Behaviour(reply=lambda body: extract_prompt(body).upper()))
    fake.enqueue(Behaviour(reply="queued"), model="demo-cleaner")
    msgs = _user("say <prompt>hello there</prompt>")
    assert (
        client.chat.completions.create(model="demo-describer", messages=msgs).choices[0].message.content
        == "HELLO THERE"
    )
    assert client.chat.completions.create(model="demo-cleaner", messages=msgs).choices[0].message.content == "queued"
    assert (
        client.chat.completions.create(model="demo-cleaner", messages=msgs).choices[0].message.content == "Hello there."
    )


def test_request_errors_like_vllm(fake: FakeVllmServer) -> None:
    url = f"{fake.base_url}/chat/completions"
    resp = httpx.post(url, json={"model": BASE, "messages": _user("x"), "stream_options": {"include_usage": True}})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "stream_options"
    resp = httpx.post(url, content=b"{oops", headers={"content-type": "application/json"})
    assert (resp.status_code, resp.json()["error"]["type"], resp.json()["error"]["code"]) == (400, "Bad Request", 400)
    resp = httpx.post(url, json={"model": BASE, "messages": _user("word " * 600)})
    assert resp.status_code == 400
    assert "maximum context length is 512" in resp.json()["error"]["message"]


def test_api_key_required() -> None:
    with FakeVllmServer(BASE, api_key="sekret") as fake:
        assert httpx.get(f"{fake.base_url}/models").status_code == 401
        assert httpx.get(f"{fake.base_url}/models").json() == {"error": "Unauthorized"}
        assert httpx.get(f"{fake.url}/health").status_code == 200
        with openai.OpenAI(base_url=fake.base_url, api_key="sekret", max_retries=0) as good:
            assert good.models.list().data[0].id == BASE
        with (
            openai.OpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0) as bad,
            pytest.raises(openai.AuthenticationError),
        ):
            bad.chat.completions.create(model=BASE, messages=_user("x"))


def test_gate_holds_requests_and_tracks_in_flight(fake: FakeVllmServer, client: openai.OpenAI) -> None:
    fake.set_default(Behaviour(gate="go", reply="done"))
    results: list[str] = []

    def call() -> None:
        out = client.chat.completions.create(model=BASE, messages=_user("x"))
        results.append(out.choices[0].message.content or "")

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    fake.wait_until(lambda f: f.in_flight() == 2)
    assert results == []
    fake.open_gate("go")
    for t in threads:
        t.join(5)
    assert results == ["done", "done"]
    assert fake.peak_in_flight == 2
    # The fake counts a request as completed after its last byte is sent, so just after the client has it.
    fake.wait_until(lambda f: f.completed == 2)


async def test_async_usage() -> None:
    async with FakeVllmServer(BASE, adapters=ADAPTERS) as fake:
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0) as c:
            out = await c.chat.completions.create(model="demo-cleaner", messages=_user("<prompt>yo</prompt>"))
            assert out.choices[0].message.content == "Yo."
            stream = await c.chat.completions.create(model=BASE, messages=_user("a b c"), stream=True)
            text = "".join([ch.choices[0].delta.content or "" async for ch in stream])
            assert text == "A b c."
        recs = await fake.wait_for_requests_async(2)
        assert [r.stream for r in recs] == [False, True]


def test_cli_parses_adapters() -> None:
    with pytest.raises(SystemExit):
        fake_main(["--adapter", "missing-path"])
