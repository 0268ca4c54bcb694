"""Target (relay) call metrics on /metrics of the served gateway, by target and result, from real calls."""

from __future__ import annotations

import contextlib

import httpx
import openai

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway
from tests.compat.conftest import DOWN_TARGET, SLOW_TARGET, TARGET
from tests.gateway.test_observability import Samples, parse, value


def _scrape(gateway: ServedGateway) -> Samples:
    return parse(httpx.get(gateway.url + "/metrics").text)


def _call(gateway: ServedGateway, model: str) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=10)
    with contextlib.suppress(openai.APIStatusError):
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi."}], extra_headers={"x-mpr-stages": "none"}
        )


def test_target_calls_are_counted_by_target_and_result(gateway: ServedGateway, answer: FakeVllmServer) -> None:
    counted = [
        ("ok", TARGET),
        ("http_4xx", TARGET),
        ("http_5xx", TARGET),
        ("connection", DOWN_TARGET),
        ("timeout", SLOW_TARGET),
    ]
    before = _scrape(gateway)

    def delta(after: Samples, target: str, result: str) -> float:
        name = "mpr_target_calls_total"
        return value(after, name, target=target, result=result) - value(before, name, target=target, result=result)

    answer.set_default(Behaviour())
    _call(gateway, TARGET)
    answer.set_default(Behaviour(status=400, error_message="bad temperature"))
    _call(gateway, TARGET)
    answer.set_default(Behaviour(status=500))
    _call(gateway, TARGET)  # a 5xx is retried once (cluster retry.attempts = 2): two attempts
    _call(gateway, DOWN_TARGET)  # connection refused, retried: two attempts
    answer.set_default(Behaviour(gate="never"))
    _call(gateway, SLOW_TARGET)  # a timeout is not retried
    after = _scrape(gateway)
    attempts = {result: delta(after, target, result) for result, target in counted}
    assert attempts == {"ok": 1, "http_4xx": 1, "http_5xx": 2, "connection": 2, "timeout": 1}
    histogram = "mpr_target_call_latency_seconds_count"
    assert value(after, histogram, target=TARGET) - value(before, histogram, target=TARGET) == 4
