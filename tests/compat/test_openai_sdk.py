"""The openai SDK (sync, async, streaming, raw responses, typed errors) against targets through the gateway."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway
from tests.compat.conftest import DOWN_TARGET, LEGACY_TARGET, SLOW_TARGET, TARGET

NOISY = "who was ada lovelance"
CLEAN = "Who was Ada Lovelace?"
CONVERSATION: Any = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "Hi."},
    {"role": "user", "content": NOISY},
]


def sdk(gateway: ServedGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=10)


def async_sdk(gateway: ServedGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=10)


def sse_payloads(text: str) -> list[Any]:
    """The `data:` payloads of an SSE body, `[DONE]` kept as a string."""
    out: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_refined_prompt_replaces_the_last_user_message_and_everything_else_passes(
    gateway: ServedGateway, cleaner: FakeVllmServer, answer: FakeVllmServer
) -> None:
    cleaner.set_default(Behaviour(reply=CLEAN))
    completion = sdk(gateway).chat.completions.create(
        model=TARGET,
        messages=CONVERSATION,
        seed=7,
        stop=["\n\n"],
        logprobs=True,
        temperature=0.3,
        max_completion_tokens=64,
        extra_body={"top_k": 5, "mpr": {"stages": ["cleaner"]}},
    )
    sent = answer.last_request.body
    assert sent["model"] == "base"
    assert sent["messages"][:3] == CONVERSATION[:3]
    assert sent["messages"][3] == {"role": "user", "content": CLEAN}
    assert (sent["seed"], sent["stop"], sent["logprobs"], sent["temperature"]) == (7, ["\n\n"], True, 0.3)
    assert sent["max_completion_tokens"] == 64 and "max_tokens" not in sent
    assert sent["top_k"] == 5 and "mpr" not in sent
    assert completion.model == TARGET
    assert completion.choices[0].message.content == CLEAN  # the fake echoes the (refined) user message
    assert completion.system_fingerprint is not None and completion.system_fingerprint.startswith("vllm-")
    details = (completion.model_extra or {})["mpr"]
    assert details["refined_prompt"] == CLEAN
    assert details["stages"]["cleaner"]["status"] == "ok"
    assert details["stages"]["describer"]["status"] == "skipped"


def test_max_completion_tokens_is_mapped_for_a_max_tokens_target(
    gateway: ServedGateway, answer: FakeVllmServer
) -> None:
    sdk(gateway).chat.completions.create(
        model=LEGACY_TARGET,
        messages=[{"role": "user", "content": "Hello."}],
        max_completion_tokens=3,
        extra_headers={"x-mpr-stages": "none"},
    )
    sent = answer.last_request.body
    assert sent["max_tokens"] == 3 and "max_completion_tokens" not in sent


def test_content_parts_stay_a_list(gateway: ServedGateway, cleaner: FakeVllmServer, answer: FakeVllmServer) -> None:
    cleaner.set_default(Behaviour(reply=CLEAN))
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    content: Any = [{"type": "text", "text": NOISY}, image]
    sdk(gateway).chat.completions.create(
        model=TARGET,
        messages=[{"role": "user", "content": content}],
        extra_headers={"x-mpr-stages": "cleaner"},
    )
    assert answer.last_request.body["messages"][0]["content"] == [{"type": "text", "text": CLEAN}, image]


async def test_async_client_relay_only_sends_the_request_unchanged(
    gateway: ServedGateway, cleaner: FakeVllmServer, describer: FakeVllmServer, answer: FakeVllmServer
) -> None:
    client = async_sdk(gateway)
    raw = await client.chat.completions.with_raw_response.create(
        model=TARGET,
        messages=CONVERSATION,
        extra_headers={"x-mpr-stages": "none"},
    )
    completion = raw.parse()
    assert raw.headers["x-mpr-stages"] == "none"
    assert answer.last_request.body["messages"] == CONVERSATION
    assert cleaner.count() == 0 and describer.count() == 0
    assert completion.choices[0].message.content == "Who was ada lovelance."
    assert (completion.model_extra or {})["mpr"]["relay_only"] is True
    await client.close()


def test_raw_response_headers_and_distinct_upstream_request_ids(
    gateway: ServedGateway, cleaner: FakeVllmServer, answer: FakeVllmServer
) -> None:
    cleaner.set_default(Behaviour(reply=CLEAN))
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model=TARGET,
        messages=[{"role": "user", "content": NOISY}],
        extra_headers={"x-request-id": "abc-1", "x-mpr-stages": "cleaner"},
    )
    assert raw.headers["x-request-id"] == "abc-1"
    assert raw.parse()._request_id == "abc-1"
    assert raw.headers["x-mpr-stages"].startswith("cleaner=ok")
    assert raw.headers["x-mpr-run-id"].startswith("run-")
    ids = [cleaner.last_request.request_id, answer.last_request.request_id]
    assert all(i is not None and i.startswith("abc-1-") for i in ids)
    assert len(set(ids)) == 2


def test_streaming_through_the_sdk(gateway: ServedGateway, cleaner: FakeVllmServer) -> None:
    cleaner.set_default(Behaviour(reply=CLEAN))
    with sdk(gateway).chat.completions.with_streaming_response.create(
        model=TARGET,
        messages=[{"role": "user", "content": NOISY}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-mpr-stages": "cleaner"},
    ) as response:
        assert response.headers["x-mpr-stages"].startswith("cleaner=ok")
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == CLEAN
    assert all(c.model == TARGET for c in chunks)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


def test_stream_wire_shape_usage_null_then_usage_chunk(gateway: ServedGateway) -> None:
    body = {
        "model": TARGET,
        "messages": [{"role": "user", "content": "Tell me more."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"})
    events = sse_payloads(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["model"] == TARGET for c in chunks)
    assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


def test_a_stream_event_of_megabytes_is_relayed_whole(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    # One token of 3,000,000 characters: a single SSE line past aiohttp's readline limit, arriving over many reads.
    word = "abcdefghij" * 300_000
    answer.set_default(Behaviour(reply=f"{word} end"))
    body = {"model": TARGET, "messages": [{"role": "user", "content": "Long."}], "stream": True}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"})
    events = sse_payloads(response.text)
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"])
    assert text.split() == [word, "end"]


def test_stream_without_include_usage_has_no_usage(gateway: ServedGateway) -> None:
    body = {"model": TARGET, "messages": [{"role": "user", "content": "Hi there."}], "stream": True}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"})
    chunks = sse_payloads(response.text)[:-1]
    assert chunks and all("usage" not in c for c in chunks)


def test_upstream_error_mid_stream_is_an_error_event_then_done(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply="one two three", fail_after_tokens=1, fail_mode="close"))
    body = {"model": TARGET, "messages": [{"role": "user", "content": "Count."}], "stream": True}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"})
    assert response.status_code == 200
    events = sse_payloads(response.text)
    assert events[-1] == "[DONE]"
    assert "error" in events[-2] and TARGET in events[-2]["error"]["message"]
    assert events[1]["choices"][0]["delta"]["content"] == "one"
    answer.set_default(Behaviour(reply="one two three", fail_after_tokens=1))  # vLLM's own error event
    with (
        sdk(gateway) as client,
        client.chat.completions.create(
            model=TARGET, messages=[{"role": "user", "content": "Count."}], stream=True
        ) as stream,
        pytest.raises(openai.APIError),
    ):
        list(stream)


def test_client_disconnect_cancels_the_upstream_stream(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    # The fake sends its role chunk, then waits a long time before the first token: only a disconnect ends it.
    answer.set_default(Behaviour(reply="slow words", token_delay=60))
    body = {"model": TARGET, "messages": [{"role": "user", "content": "Wait."}], "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"}) as r,
    ):
        first = next(r.iter_lines())
        assert first.startswith("data: ") and json.loads(first[6:])["model"] == TARGET
    answer.wait_until(lambda f: f.cancelled == 1 and f.in_flight() == 0, timeout=5)


def test_models_list_has_refine_model_and_targets(gateway: ServedGateway) -> None:
    ids = [m.id for m in sdk(gateway).models.list()]
    assert ids == ["mpr-refine", TARGET, LEGACY_TARGET, DOWN_TARGET, SLOW_TARGET]


def test_typed_errors(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    client = sdk(gateway)
    hello = [{"role": "user", "content": "Hello."}]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=hello)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found" and TARGET in missing.value.message
    answer.set_default(Behaviour(status=400, error_message="temperature is out of range"))
    with pytest.raises(openai.BadRequestError) as rejected:
        client.chat.completions.create(model=TARGET, messages=hello)  # type: ignore[arg-type]
    assert "temperature is out of range" in rejected.value.message
    assert rejected.value.response.headers["x-should-retry"] == "false"
    answer.set_default(Behaviour(status=500))
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model=TARGET, messages=hello)  # type: ignore[arg-type]
    assert failed.value.status_code == 502 and failed.value.code == "bad_gateway"
    assert failed.value.response.headers["x-should-retry"] == "true"
    with pytest.raises(openai.APIStatusError) as down:
        client.chat.completions.create(model=DOWN_TARGET, messages=hello, stream=True)  # type: ignore[arg-type]
    assert down.value.status_code == 503 and DOWN_TARGET in down.value.message
    assert down.value.response.headers["x-should-retry"] == "true"


def test_a_target_that_hangs_is_a_504(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(gate="never"))
    with pytest.raises(openai.APIStatusError) as slow:
        sdk(gateway).chat.completions.create(
            model=SLOW_TARGET, messages=[{"role": "user", "content": "Hello."}], extra_headers={"x-mpr-stages": "none"}
        )
    assert slow.value.status_code == 504 and slow.value.code == "target_timeout"
    assert answer.count() == 1  # a timeout is not retried


def test_retry_happens_only_before_the_first_byte(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.enqueue(Behaviour(status=503))
    completion = sdk(gateway).chat.completions.create(
        model=TARGET, messages=[{"role": "user", "content": "Hello."}], extra_headers={"x-request-id": "r-9"}
    )
    assert completion.choices[0].message.content == "Hello."
    assert [r.request_id for r in answer.requests()] == ["r-9-target-a1", "r-9-target-a2"]
    answer.clear()
    answer.set_default(Behaviour(reply="one two", fail_after_tokens=1, fail_mode="close"))
    body = {"model": TARGET, "messages": [{"role": "user", "content": "Count."}], "stream": True}
    httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"})
    assert answer.count() == 1


@pytest.mark.parametrize("stages", ["none", "cleaner,describer"])
def test_a_lone_surrogate_for_a_target_is_a_400_not_a_502(
    gateway: ServedGateway, answer: FakeVllmServer, stages: str
) -> None:
    raw = (
        b'{"model": "answer", "messages": [{"role": "system", "content": "be \\udc00 brief"},'
        b' {"role": "user", "content": "hi"}]}'
    )
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=raw,
        headers={"content-type": "application/json", "x-mpr-stages": stages},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "messages.0.content"
    assert answer.count() == 0, "the target was never called"


def test_a_field_the_target_refuses_is_a_400_and_never_reaches_it(
    gateway: ServedGateway, answer: FakeVllmServer
) -> None:
    client = sdk(gateway)
    before = answer.count()
    messages: Any = [{"role": "user", "content": "what is teh capital of France"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="answer", messages=messages, extra_body={"prompt_logprobs": 1})
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == "prompt_logprobs" and error["code"] == "unsupported_parameter"
    assert answer.count() == before, "the target was never called"
    allowed = client.chat.completions.create(model="answer", messages=messages, extra_body={"prompt_logprobs": None})
    assert allowed.choices[0].message.content, "an explicit null is no request for it"


def test_the_request_deadline_bounds_a_relayed_answer(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    """The target's own timeout is 10 s; the request's deadline (300 ms) ends the call, retries included."""
    answer.set_default(Behaviour(gate="never"))
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": TARGET, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-mpr-stages": "none", "x-mpr-deadline-ms": "300"},
        timeout=10,
    )
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "target_timeout"
    assert response.elapsed.total_seconds() < 3


def test_the_request_deadline_ends_a_relayed_stream_with_an_error_event(
    gateway: ServedGateway, answer: FakeVllmServer
) -> None:
    answer.set_default(Behaviour(reply=" ".join(["word"] * 200), token_delay=0.05))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": TARGET, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-mpr-stages": "none", "x-mpr-deadline-ms": "600"},
        timeout=10,
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert response.status_code == 200
    assert lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2].removeprefix("data: "))
    assert error["error"]["code"] == "target_timeout", error
    assert 1 < len(lines) - 2 < 150, "some tokens were relayed, then the deadline ended the stream"
