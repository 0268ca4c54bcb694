"""The relay's pure parts: the forwarded request, the answer and one relayed stream event."""

from __future__ import annotations

import json
from typing import Any

from gateway.http.relay import answer_body, forwarded_body, refinement_details, relay_event
from gateway.pipeline.outcomes import Refinement
from gateway.upstream.calls import Usage


def refinement(original: str, refined: str) -> Refinement:
    return Refinement(
        run_id="run-1",
        original_prompt=original,
        cleaned_prompt=refined,
        refined_prompt=refined,
        cleaner_output=refined,
        describer_output=None,
        stages={},
        usage=Usage(),
        latency_ms=1.0,
    )


def test_only_the_refined_message_changes_and_our_field_is_dropped() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "teh cat", "name": "u"}]
    body = {"model": "t", "messages": messages, "mpr": {"stages": ["cleaner"]}, "top_k": 3, "tools": [{"x": 1}]}
    out = forwarded_body(body, 1, refinement("teh cat", "The cat."))
    assert out == {
        "model": "t",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "The cat.", "name": "u"}],
        "top_k": 3,
        "tools": [{"x": 1}],
    }
    assert messages[1]["content"] == "teh cat"  # the client's request object is not mutated


def test_content_parts_keep_their_non_text_parts_and_order() -> None:
    image = {"type": "image_url", "image_url": {"url": "u"}}
    parts = [image, {"type": "text", "text": "teh"}, {"type": "text", "text": "cat"}]
    out = forwarded_body({"messages": [{"role": "user", "content": parts}]}, 0, refinement("teh\ncat", "The cat."))
    assert out["messages"][0]["content"] == [image, {"type": "text", "text": "The cat."}]


def test_unchanged_prompt_or_relay_only_forwards_the_messages_as_they_are() -> None:
    parts = [{"type": "text", "text": "Hi."}, {"type": "text", "text": "There."}]
    body = {"messages": [{"role": "user", "content": parts}]}
    assert forwarded_body(body, 0, refinement("Hi.\nThere.", "Hi.\nThere.")) == body
    assert forwarded_body(body, None, None) == body


def test_answer_keeps_everything_but_the_model_name() -> None:
    answer: dict[str, Any] = {
        "id": "x",
        "model": "upstream",
        "choices": [],
        "usage": {"total_tokens": 1},
        "kv_transfer_params": None,
    }
    details = refinement_details("run-2", None)
    assert answer_body(answer, "public", details) == {**answer, "model": "public", "mpr": details}
    assert details == {"run_id": "run-2", "relay_only": True, "stages": {}}


def test_stream_events_rename_the_model_and_add_usage_null() -> None:
    chunk = {"id": "c", "model": "upstream", "choices": [{"index": 0, "delta": {"content": "a"}}]}
    event = relay_event(json.dumps(chunk), "public", include_usage=True)
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:]) == {**chunk, "model": "public", "usage": None}
    assert json.loads(relay_event(json.dumps(chunk), "public", include_usage=False)[6:]) == {**chunk, "model": "public"}
    error = {"error": {"message": "boom", "code": 500}}
    assert json.loads(relay_event(json.dumps(error), "public", include_usage=True)[6:]) == error
    assert relay_event("not json", "public", include_usage=True) == b"data: not json\n\n"
