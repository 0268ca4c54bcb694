"""Streams with an Idempotency-Key through the served gateway: stored when whole, replayed whole, rerun otherwise."""

from __future__ import annotations

import json

import httpx

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway
from tests.compat.conftest import TARGET

RELAY_ONLY = {"x-mpr-stages": "none"}


def _body(text: str) -> dict[str, object]:
    return {"model": TARGET, "messages": [{"role": "user", "content": text}], "stream": True}


def _post(gateway: ServedGateway, key: str, body: dict[str, object]) -> httpx.Response:
    headers = {**RELAY_ONLY, "Idempotency-Key": key}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def _content(response: httpx.Response) -> str:
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def test_a_whole_stream_is_stored_and_replayed_byte_for_byte(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply="one two three"))
    first = _post(gateway, "stream-whole", _body("Count."))
    second = _post(gateway, "stream-whole", _body("Count."))
    assert first.status_code == second.status_code == 200
    assert _content(first).split() == ["one", "two", "three"]
    assert [first.headers["x-idempotent-replay"], second.headers["x-idempotent-replay"]] == ["false", "true"]
    assert second.headers["content-type"].startswith("text/event-stream")
    assert second.content == first.content
    assert answer.count() == 1
    clash = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={**_body("Count."), "stream": False},
        headers={**RELAY_ONLY, "Idempotency-Key": "stream-whole"},
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "idempotency_key_reused"


def test_a_stream_that_failed_is_not_stored(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply="one two three", fail_after_tokens=1, fail_mode="close"))
    failed = _post(gateway, "stream-failed", _body("Count."))
    assert "error" in failed.text and failed.headers["x-idempotent-replay"] == "false"
    answer.set_default(Behaviour(reply="one two three"))
    again = _post(gateway, "stream-failed", _body("Count."))
    assert again.headers["x-idempotent-replay"] == "false"
    assert _content(again).split() == ["one", "two", "three"]
    assert answer.count() == 2


def test_a_stream_cut_off_by_its_client_releases_the_key(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply="slow words", token_delay=60))
    headers = {**RELAY_ONLY, "Idempotency-Key": "stream-cut"}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", gateway.url + "/v1/chat/completions", json=_body("Wait."), headers=headers) as r,
    ):
        assert next(r.iter_lines()).startswith("data: ")
    answer.wait_until(lambda f: f.cancelled == 1 and f.in_flight() == 0, timeout=5)
    answer.set_default(Behaviour(reply="quick words"))
    again = _post(gateway, "stream-cut", _body("Wait."))
    assert again.headers["x-idempotent-replay"] == "false"
    assert _content(again).split() == ["quick", "words"]
