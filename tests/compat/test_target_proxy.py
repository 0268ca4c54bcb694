"""A target behind an HTTP proxy: the relay goes through the configured proxy, answers and streams intact."""

from __future__ import annotations

import json

import httpx

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.fakes.http_proxy import ForwardProxy
from benchmarks.serving import ServedGateway
from tests.compat.conftest import target_cluster


def test_relay_through_the_targets_proxy(fakes: dict[str, FakeVllmServer]) -> None:
    answer = fakes["answer"]
    answer.set_default(Behaviour(reply="via the proxy"))
    cluster = target_cluster(fakes["cleaner"], fakes["describer"], answer)
    with ForwardProxy() as proxy:
        proxied = {"kind": "openai", "base_url": answer.base_url, "model": "base", "proxy": proxy.url}
        served = ServedGateway(cluster.model_validate({**cluster.model_dump(), "targets": {"proxied": proxied}}))
        served.start()
        try:
            body = {"model": "proxied", "messages": [{"role": "user", "content": "Hi."}]}
            plain = httpx.post(served.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"})
            streamed = httpx.post(
                served.url + "/v1/chat/completions", json={**body, "stream": True}, headers={"x-mpr-stages": "none"}
            )
        finally:
            served.stop()
    assert plain.status_code == 200 and plain.json()["choices"][0]["message"]["content"] == "via the proxy"
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert events[-1] == "[DONE]" and text == "via the proxy"
    assert proxy.seen == [f"POST {answer.base_url}/chat/completions"] * 2
    assert answer.count() == 2
