"""The real openai SDK against the served gateway over loopback: plain, streaming, errors."""

from __future__ import annotations

import openai
import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway

NOISY = "who was ada lovelance"


def sdk(gateway: ServedGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=10)


def test_sdk_chat_completion(served: ServedGateway, cleaner_fake: FakeVllmServer) -> None:
    cleaner_fake.set_default(Behaviour(reply="Who was Ada Lovelace?"))
    completion = sdk(served).chat.completions.create(model="mpr-refine", messages=[{"role": "user", "content": NOISY}])
    assert completion.choices[0].message.content is not None
    assert completion.choices[0].message.content.startswith("Who was Ada Lovelace?")
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    details = (completion.model_extra or {})["mpr"]
    assert details["stages"]["cleaner"]["status"] == "ok"


def test_sdk_streaming_with_usage(served: ServedGateway, cleaner_fake: FakeVllmServer) -> None:
    cleaner_fake.set_default(Behaviour(reply="Who was Ada Lovelace?"))
    stream = sdk(served).chat.completions.create(
        model="mpr-refine",
        messages=[{"role": "user", "content": NOISY}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Who was Ada Lovelace?")
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


def test_sdk_models_and_typed_errors(served: ServedGateway) -> None:
    client = sdk(served)
    assert [m.id for m in client.models.list()] == ["mpr-refine"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="mpr-refine", messages=[])


def test_raw_response_carries_request_id(served: ServedGateway) -> None:
    raw = sdk(served).chat.completions.with_raw_response.create(
        model="mpr-refine", messages=[{"role": "user", "content": "Hello."}], extra_headers={"x-request-id": "abc-1"}
    )
    assert raw.headers["x-request-id"] == "abc-1"
    assert raw.headers["x-mpr-stages"].startswith("cleaner=")
    assert raw.parse().choices[0].message.content == "Hello."
