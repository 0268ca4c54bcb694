"""LangChain's ChatOpenAI against a target through the gateway: invoke, stream with usage, batch, structured output."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway
from tests.compat.conftest import TARGET


class Person(BaseModel):
    """A person and the year they were born."""

    name: str
    born: int


def chat(gateway: ServedGateway) -> ChatOpenAI:
    return ChatOpenAI(
        model=TARGET,
        base_url=gateway.url + "/v1",
        api_key=SecretStr("unused"),
        max_retries=0,
        timeout=10,
        max_completion_tokens=48,
        stream_usage=True,
    )


def test_invoke(gateway: ServedGateway, cleaner: FakeVllmServer, answer: FakeVllmServer) -> None:
    cleaner.set_default(Behaviour(reply="Who was Ada Lovelace?"))
    reply = chat(gateway).invoke(
        [SystemMessage("You are terse."), HumanMessage("who was ada lovelance")],
        extra_body={"mpr": {"stages": ["cleaner"]}},
    )
    assert reply.content == "Who was Ada Lovelace?"
    assert reply.response_metadata["model_name"] == TARGET
    sent = answer.last_request.body
    assert sent["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Who was Ada Lovelace?"},
    ]
    assert sent["max_completion_tokens"] == 48


def test_stream_with_usage(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply="Ada Lovelace wrote the first program."))
    chunks = list(chat(gateway).stream("Who wrote the first program?", extra_headers={"x-mpr-stages": "none"}))
    assert len(chunks) > 3
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert total.content == "Ada Lovelace wrote the first program."
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] > 0
    assert answer.last_request.body["stream_options"] == {"include_usage": True}


def test_batch_keeps_order(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    prompts: list[Any] = ["First question here.", "Second question here.", "Third question here."]
    replies = chat(gateway).batch(prompts, config={"max_concurrency": 3})
    assert [r.content for r in replies] == prompts
    assert answer.count() == 3


def test_structured_output_json_schema_passes_through(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply=json.dumps({"name": "Ada Lovelace", "born": 1815})))
    person = chat(gateway).with_structured_output(Person).invoke("Who was Ada Lovelace?")
    assert person == Person(name="Ada Lovelace", born=1815)
    response_format = answer.last_request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Person"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"name", "born"}


def test_structured_output_function_calling_and_json_mode_pass_through(
    gateway: ServedGateway, answer: FakeVllmServer
) -> None:
    answer.set_default(Behaviour(reply=json.dumps({"name": "Ada Lovelace", "born": 1815})))
    tools = chat(gateway).with_structured_output(Person, method="function_calling", include_raw=True)
    tools.invoke("Who was Ada Lovelace?")
    sent = answer.last_request.body
    assert sent["tools"][0]["function"]["name"] == "Person"
    assert sent["tool_choice"]["function"]["name"] == "Person"
    json_mode = chat(gateway).with_structured_output(Person, method="json_mode")
    assert json_mode.invoke("Who was Ada Lovelace? Answer in JSON.") == Person(name="Ada Lovelace", born=1815)
    assert answer.last_request.body["response_format"] == {"type": "json_object"}
