"""The relay's SSE line splitting against a target that writes raw bytes: a capped line, an unterminated last line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.fakes import FakeVllmServer
from benchmarks.fakes.raw_server import ThreadedRawServer
from benchmarks.serving import ServedGateway
from tests.compat.conftest import target_cluster

MAX_LINE = 64 * 1024
NO_NEWLINE_TOTAL = 64 * 1024 * 1024  # far above the socket buffers: a bounded reader stops it long before
CHUNK = 64 * 1024


def chunk_event(content: str) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "base",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}  # fmt: skip
    return b"data: " + json.dumps(chunk).encode()


def scenario_chunks(name: str) -> Iterator[bytes]:
    """What the target writes after its headers, chunk by chunk, for each scenario."""
    if name == "tail":  # the last event without its newline (and no [DONE])
        yield chunk_event("hel") + b"\n\n"
        yield chunk_event("lo")
    elif name == "big":  # one event just under the cap, in many small pieces
        event = chunk_event("x" * (MAX_LINE - 200))
        for start in range(0, len(event), 1000):
            yield event[start : start + 1000]
        yield b"\n\ndata: [DONE]\n\n"
    elif name == "endless":  # never a newline
        for _ in range(NO_NEWLINE_TOTAL // CHUNK):
            yield b"x" * CHUNK


class RawSseTarget(ThreadedRawServer):
    """An HTTP server on loopback that answers every POST with `text/event-stream` and the scenario's raw bytes,
    then closes; the first path segment names the scenario. Records how many body bytes it got to write."""

    def __init__(self) -> None:
        super().__init__("raw-sse-target")
        self.written: dict[str, int] = {}

    def base_url(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.port}/{scenario}/v1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            scenario = head.split(" ")[1].split("/")[1]
            length = next(int(h.split(":", 1)[1]) for h in head.split("\r\n") if h.lower().startswith("content-length"))
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            self.written[scenario] = 0
            for data in scenario_chunks(scenario):
                writer.write(data)
                await writer.drain()
                self.written[scenario] += len(data)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the gateway hung up: that is what the cap does
        finally:
            writer.close()


@pytest.fixture(scope="module")
def raw_target() -> Iterator[RawSseTarget]:
    with RawSseTarget() as target:
        yield target


@pytest.fixture(scope="module")
def served(fakes: dict[str, FakeVllmServer], raw_target: RawSseTarget) -> Iterator[ServedGateway]:
    cluster = target_cluster(fakes["cleaner"], fakes["describer"], fakes["answer"])
    targets = {
        name: {"kind": "openai", "base_url": raw_target.base_url(name), "model": "base", "timeout_s": 10,
               "max_sse_line_bytes": MAX_LINE}
        for name in ("tail", "big", "endless")
    }  # fmt: skip
    gateway = ServedGateway(cluster.model_validate({**cluster.model_dump(), "targets": targets})).start()
    yield gateway
    gateway.stop()


def relayed_events(gateway: ServedGateway, target: str) -> list[str]:
    body = {"model": target, "messages": [{"role": "user", "content": "Hi."}], "stream": True}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-mpr-stages": "none"}, timeout=30)
    assert response.status_code == 200
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


def contents(events: list[str]) -> str:
    return "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events if e != "[DONE]")


def test_a_last_line_without_its_newline_is_relayed(served: ServedGateway) -> None:
    events = relayed_events(served, "tail")
    assert events[-1] == "[DONE]"
    assert contents(events) == "hello"


def test_an_event_under_the_cap_in_many_pieces_is_relayed_whole(served: ServedGateway) -> None:
    events = relayed_events(served, "big")
    assert events[-1] == "[DONE]" and len(events) == 2
    assert contents(events) == "x" * (MAX_LINE - 200)


def test_a_line_over_the_cap_fails_the_stream_and_drops_the_target(
    served: ServedGateway, raw_target: RawSseTarget
) -> None:
    events = relayed_events(served, "endless")
    assert events[-1] == "[DONE]" and len(events) == 2
    error = json.loads(events[0])["error"]
    assert error["type"] == "upstream_error" and error["code"] == "bad_gateway"
    assert f"longer than {MAX_LINE} bytes" in error["message"]
    # The gateway hung up on the target instead of reading (and buffering) all it had to send.
    assert raw_target.written["endless"] < NO_NEWLINE_TOTAL // 4
