"""Idempotency keys against the in-memory store and a real redis-server: replay, concurrency, conflict, expiry."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from benchmarks.fakes import Behaviour, FakeVllmServer
from config import Cluster
from gateway.errors import ModelNotFound
from gateway.http.app import create_app
from gateway.http.idempotency import Idempotency, MemoryStore, StoredResponse
from gateway.http.idempotency_redis import RedisStore
from gateway.http.state import GatewayState
from tests.gateway.conftest import make_cluster, started_client
from tests.redis_server import MISSING, RedisServer

NOISY = "what is the captial of frane"
CLEAN = "What is the capital of France?"
BACKGROUND = "France is a country in Western Europe. Its capital city is Paris."


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session; a missing binary fails (never skips) with how to install it."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    except RuntimeError as exc:
        pytest.fail(str(exc) if str(exc) else MISSING)
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Cluster overrides selecting the store (a fresh Redis key prefix per test)."""
    if request.param == "memory":
        return {}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"idempotency": {"redis_url": server.url, "key_prefix": f"test-{uuid.uuid4().hex}:"}}


def _cluster(cleaner: FakeVllmServer, describer: FakeVllmServer, overrides: dict[str, Any]) -> Cluster:
    cleaner.set_default(Behaviour(reply=CLEAN))
    describer.set_default(Behaviour(reply=BACKGROUND))
    return make_cluster(cleaner.base_url, describer.base_url, overrides=overrides)


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started_client(app):
        yield client


def _state(app: FastAPI) -> GatewayState:
    state: GatewayState = app.state.gateway
    return state


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Bounded wait for in-process state that has no event to wait on."""
    give_up = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < give_up, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_repeated_key_replays_the_stored_response(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, backend: dict[str, Any]
) -> None:
    app = create_app(_cluster(cleaner_fake, describer_fake, backend))
    request = {"prompt": NOISY, "run_id": "run-1", "idempotency_key": "key-replay"}
    async for client in _client(app):
        first = await client.post("/refine", json=request)
        second = await client.post("/refine", json=request, headers={"x-request-id": "again-1"})
    assert first.status_code == second.status_code == 200
    assert first.headers["x-idempotent-replay"] == "false"
    assert second.headers["x-idempotent-replay"] == "true"
    assert second.content == first.content
    assert second.headers["x-mpr-run-id"] == "run-1"
    assert second.headers["x-request-id"] == "again-1"
    assert cleaner_fake.count() == 1 and describer_fake.count() == 1


async def test_chat_idempotency_key_header(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, backend: dict[str, Any]
) -> None:
    app = create_app(_cluster(cleaner_fake, describer_fake, backend))
    body = {"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
    headers = {"Idempotency-Key": "chat-key"}
    async for client in _client(app):
        first = await client.post("/v1/chat/completions", json=body, headers=headers)
        second = await client.post("/v1/chat/completions", json=body, headers=headers)
        other = await client.post("/v1/chat/completions", json={**body, "temperature": 0.5}, headers=headers)
        streamed = await client.post("/v1/chat/completions", json={**body, "stream": True}, headers=headers)
        stream_key = {"Idempotency-Key": "chat-stream-key"}
        live = await client.post("/v1/chat/completions", json={**body, "stream": True}, headers=stream_key)
        replayed = await client.post("/v1/chat/completions", json={**body, "stream": True}, headers=stream_key)
    assert first.status_code == 200
    assert second.headers["x-idempotent-replay"] == "true"
    assert second.json() == first.json()
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert streamed.status_code == 409, "the key belongs to the non-streaming body"
    assert live.status_code == replayed.status_code == 200
    assert [live.headers["x-idempotent-replay"], replayed.headers["x-idempotent-replay"]] == ["false", "true"]
    assert replayed.content == live.content and live.text.endswith("data: [DONE]\n\n")
    assert cleaner_fake.count() == 2, "one pipeline run per key"


async def test_same_key_with_another_body_is_a_conflict(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, backend: dict[str, Any]
) -> None:
    app = create_app(_cluster(cleaner_fake, describer_fake, backend))
    async for client in _client(app):
        ok = await client.post("/refine", json={"prompt": NOISY, "idempotency_key": "key-c"})
        clash = await client.post("/refine", json={"prompt": "who was ada lovelance", "idempotency_key": "key-c"})
    assert ok.status_code == 200
    assert clash.status_code == 409
    error = clash.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "different request body" in error["message"]
    assert error["param"] == "idempotency_key"
    assert clash.headers["x-should-retry"] == "false"
    assert cleaner_fake.count() == 1


async def test_concurrent_requests_with_one_key_run_the_pipeline_once(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, backend: dict[str, Any]
) -> None:
    app = create_app(_cluster(cleaner_fake, describer_fake, backend))
    cleaner_fake.set_default(Behaviour(reply=CLEAN, gate="go"))
    request = {"prompt": NOISY, "idempotency_key": "key-concurrent"}
    async for client in _client(app):
        first = asyncio.create_task(client.post("/refine", json=request))
        await cleaner_fake.wait_until_async(lambda f: f.in_flight() == 1)
        others = [asyncio.create_task(client.post("/refine", json=request)) for _ in range(3)]
        await _until(lambda: _state(app).idempotency.waiting == 3)
        cleaner_fake.open_gate("go")
        responses = [await first, *[await task for task in others]]
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1, "every caller gets the same body"
    assert [r.headers["x-idempotent-replay"] for r in responses] == ["false", "true", "true", "true"]
    assert cleaner_fake.count() == 1 and describer_fake.count() == 1


async def test_two_replicas_share_redis_and_run_once(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, redis_server: RedisServer
) -> None:
    overrides = {"idempotency": {"redis_url": redis_server.url, "key_prefix": f"r-{uuid.uuid4().hex}:"}}
    cluster = _cluster(cleaner_fake, describer_fake, overrides)
    cleaner_fake.set_default(Behaviour(reply=CLEAN, gate="replicas"))
    one, two = create_app(cluster), create_app(cluster)
    request = {"prompt": NOISY, "idempotency_key": "key-replicas"}
    async for client_one in _client(one):
        async for client_two in _client(two):
            first = asyncio.create_task(client_one.post("/refine", json=request))
            await cleaner_fake.wait_until_async(lambda f: f.in_flight() == 1)
            second = asyncio.create_task(client_two.post("/refine", json=request))
            await _until(lambda: _state(two).idempotency.waiting == 1)
            cleaner_fake.open_gate("replicas")
            a, b = await first, await second
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
    assert b.headers["x-idempotent-replay"] == "true"
    assert cleaner_fake.count() == 1


async def test_redis_replay_survives_a_gateway_restart(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, redis_server: RedisServer
) -> None:
    overrides = {"idempotency": {"redis_url": redis_server.url, "key_prefix": f"s-{uuid.uuid4().hex}:"}}
    cluster = _cluster(cleaner_fake, describer_fake, overrides)
    request = {"prompt": NOISY, "idempotency_key": "key-restart"}
    async for client in _client(create_app(cluster)):
        before = await client.post("/refine", json=request)
    async for client in _client(create_app(cluster)):  # a new process in all but name: nothing shared but Redis
        after = await client.post("/refine", json=request)
    assert before.status_code == after.status_code == 200
    assert after.headers["x-idempotent-replay"] == "true"
    assert after.content == before.content
    assert cleaner_fake.count() == 1


async def test_redis_keys_expire_after_the_ttl(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, f"ttl-{uuid.uuid4().hex}:", ttl_s=30.0, pending_ttl_s=5.0)
    idempotency = Idempotency(store)

    async def produce() -> StoredResponse:
        assert 0 < await store.ttl_ms("k") <= 5_000, "a pending marker expires with the longest request"
        return StoredResponse(200, b"{}", {})

    await idempotency.run("k", "fp", 1.0, produce)
    assert 25_000 < await store.ttl_ms("k") <= 30_000
    assert store.redis_key("k").endswith(hashlib.sha256(b"k").hexdigest()), "the raw key is not stored"
    await idempotency.aclose()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _produce(counter: list[int], body: bytes = b"{}") -> Callable[[], Awaitable[StoredResponse]]:
    async def produce() -> StoredResponse:
        counter.append(1)
        return StoredResponse(200, body, {})

    return produce


async def test_memory_keys_expire_and_the_store_is_bounded() -> None:
    clock = _Clock()
    idempotency = Idempotency(MemoryStore(max_entries=2, ttl_s=60.0, pending_ttl_s=5.0, clock=clock), clock)
    calls: list[int] = []
    await idempotency.run("a", "fp", 1.0, _produce(calls))
    assert (await idempotency.run("a", "fp", 1.0, _produce(calls)))[1] is True
    clock.now += 61.0
    assert (await idempotency.run("a", "fp", 1.0, _produce(calls)))[1] is False, "expired after the TTL"
    await idempotency.run("b", "fp", 1.0, _produce(calls))
    await idempotency.run("c", "fp", 1.0, _produce(calls))
    assert (await idempotency.run("a", "fp", 1.0, _produce(calls)))[1] is False, "least recently used was evicted"
    assert len(calls) == 5


async def test_a_failed_run_releases_its_key() -> None:
    idempotency = Idempotency(MemoryStore(max_entries=10, ttl_s=60.0, pending_ttl_s=5.0))

    async def broken() -> StoredResponse:
        raise RuntimeError("pipeline bug")

    with pytest.raises(RuntimeError):
        await idempotency.run("k", "fp", 1.0, broken)
    calls: list[int] = []
    _, replay = await idempotency.run("k", "fp", 1.0, _produce(calls))
    assert replay is False and calls == [1]


async def test_unreachable_redis_is_a_503_not_a_500(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, tmp_path: Path
) -> None:
    dead = RedisServer(tmp_path)  # never started: nothing listens on its port
    overrides = {"idempotency": {"redis_url": dead.url}}
    async for client in _client(create_app(_cluster(cleaner_fake, describer_fake, overrides))):
        response = await client.post("/refine", json={"prompt": NOISY, "idempotency_key": "k"})
        plain = await client.post("/refine", json={"prompt": NOISY})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "service_unavailable"
    assert plain.status_code == 200, "requests without a key do not need the store"


async def test_a_store_error_while_releasing_keeps_the_original_error(tmp_path: Path) -> None:
    """Redis goes away while the owner runs; the owner's failure is what the caller sees, not the store's."""
    server = RedisServer(tmp_path).start()
    store = RedisStore(server.url, "mpr-test", ttl_s=60, pending_ttl_s=30)
    idempotency = Idempotency(store)
    owner = await idempotency.acquire(f"k-{uuid.uuid4().hex}", "fp", deadline_s=5)
    assert not isinstance(owner, StoredResponse)
    server.stop()

    async def fails() -> None:
        raise ModelNotFound("no such model", param="model")

    try:
        with pytest.raises(ModelNotFound):
            await idempotency.owned(owner, fails)
        # And a finished response that cannot be stored is still returned to its caller.
        await idempotency.settle(owner, StoredResponse(200, b"{}"))
    finally:
        await idempotency.aclose()


async def test_the_memory_lru_never_evicts_a_pending_entry() -> None:
    store = MemoryStore(max_entries=2, ttl_s=60, pending_ttl_s=60)
    idempotency = Idempotency(store)
    first = await idempotency.acquire("running", "fp", deadline_s=1)
    assert not isinstance(first, StoredResponse)
    for n in range(3):  # finished entries fill the store past its bound
        other = await idempotency.acquire(f"done-{n}", "fp", deadline_s=1)
        assert not isinstance(other, StoredResponse)
        await idempotency.settle(other, StoredResponse(200, b"ok"))
    again = await store.claim("running", "fp", "another-caller")
    assert again.kind == "pending", "the running request keeps its key: a repeat waits instead of running twice"
    assert (await store.claim("done-2", "fp", "x")).kind == "done", "the newest finished entry is kept"
    assert (await store.claim("done-0", "fp", "y")).kind == "acquired", "the oldest finished entry was evicted"
