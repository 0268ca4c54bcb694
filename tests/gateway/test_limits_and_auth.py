"""Bad input and limits (413, 400, 404 in the OpenAI shape, never a 500) and client API keys (401 first)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from benchmarks.fakes import Behaviour, FakeVllmServer
from config import load_cluster
from gateway.http.app import create_app
from tests.gateway.conftest import make_cluster, started_client

NOISY = "what is the captial of frane"
CHAT = "/v1/chat/completions"


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


@pytest.fixture
async def limited(cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer) -> AsyncIterator[httpx.AsyncClient]:
    overrides: dict[str, Any] = {"limits": {"max_body_bytes": 2048}, "gateway": {"max_prompt_chars": 100}}
    async for client in started_client(
        create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides))
    ):
        yield client


async def test_body_over_the_limit_is_413(limited: httpx.AsyncClient, cleaner_fake: FakeVllmServer) -> None:
    declared = await limited.post("/refine", json={"prompt": "x" * 5000})
    assert _assert_error(declared, 413)["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    chunked = await limited.post("/refine", content=chunks(), headers={"content-type": "application/json"})
    assert _assert_error(chunked, 413)["code"] == "payload_too_large"
    assert cleaner_fake.count() == 0


@pytest.mark.parametrize(
    ("path", "content", "status", "param"),
    [
        ("/refine", b'{"prompt": ', 400, None),
        ("/refine", b'{"prompt": "\xff\xfe bad"}', 400, None),
        ("/refine", b"[1, 2]", 400, None),
        ("/refine", b'{"prompt": 42}', 400, "prompt"),
        ("/refine", b'{"prompt": "hi", "stages": ["nope"]}', 400, "stages.0"),
        ("/refine", b'{"prompt": "' + b"z" * 101 + b'"}', 400, "prompt"),
        (CHAT, b'{"model": "mpr-refine", "messages": "hi"}', 400, "messages"),
        (CHAT, b'{"model": "gpt-nope", "messages": [{"role": "user", "content": "hi"}]}', 404, "model"),
        (CHAT, b'{"model": 7, "messages": [{"role": "user", "content": "hi"}]}', 400, "model"),
        ("/nowhere", b"{}", 404, None),
    ],
)
async def test_bad_input_is_a_4xx_in_the_openai_shape(
    limited: httpx.AsyncClient, path: str, content: bytes, status: int, param: str | None
) -> None:
    response = await limited.post(path, content=content, headers={"content-type": "application/json"})
    error = _assert_error(response, status)
    assert error["param"] == param
    assert response.headers["x-should-retry"] == "false"


async def test_prompt_limit_message_is_clear(limited: httpx.AsyncClient) -> None:
    error = _assert_error(await limited.post("/refine", json={"prompt": "z" * 101}), 400)
    assert error["message"] == "The prompt has 101 characters; the limit is 100."


async def test_streaming_passes_through_the_middleware(limited: httpx.AsyncClient) -> None:
    request = {"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}], "stream": True}
    async with limited.stream("POST", CHAT, json=request) as response:
        lines = [line async for line in response.aiter_lines() if line]
    assert response.status_code == 200
    assert lines[-1] == "data: [DONE]"


KEY = "sk-client-0123456789"
HASHED_KEY = "sk-hashed-key-abcdef"


@pytest.fixture
def auth_overrides() -> dict[str, Any]:
    return {"auth": {"keys": [KEY], "key_sha256": [hashlib.sha256(HASHED_KEY.encode()).hexdigest()]}}


async def test_missing_or_wrong_key_is_401_before_any_worker_call(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, auth_overrides: dict[str, Any]
) -> None:
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=auth_overrides)
    body = {"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]}
    async for client in started_client(create_app(cluster)):
        missing = await client.post(CHAT, json=body)
        wrong = await client.post(CHAT, json=body, headers={"authorization": "Bearer sk-wrong"})
        basic = await client.post("/refine", json={"prompt": NOISY}, headers={"authorization": f"Basic {KEY}"})
        models = await client.get("/v1/models")
        assert cleaner_fake.count() == describer_fake.count() == 0
        ok = await client.post(CHAT, json=body, headers={"authorization": f"Bearer {KEY}"})
        hashed = await client.post("/refine", json={"prompt": NOISY}, headers={"authorization": f"Bearer {HASHED_KEY}"})
    for response in (missing, wrong, basic, models):
        assert _assert_error(response, 401)["code"] == "invalid_api_key"
        assert response.headers["www-authenticate"] == "Bearer"
    assert "Missing API key" in missing.json()["error"]["message"]
    assert wrong.json()["error"]["message"] == "Invalid API key."
    assert ok.status_code == hashed.status_code == 200


@pytest.mark.parametrize("protect", [False, True])
async def test_health_stays_open_ready_and_metrics_are_configurable(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, auth_overrides: dict[str, Any], protect: bool
) -> None:
    auth = {**auth_overrides["auth"], "protect_ready": protect, "protect_metrics": protect}
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides={"auth": auth})
    async for client in started_client(create_app(cluster)):
        health = await client.get("/health")
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    expected = 401 if protect else 200
    assert (ready.status_code, metrics.status_code) == (expected, expected)


def test_client_keys_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
    cluster_file = tmp_path / "cluster.yaml"
    cluster_file.write_text(source.read_text().replace("prompts/", str(source.parent / "prompts") + "/"))
    monkeypatch.setenv("MPR_API_KEYS", "sk-one, sk-two")
    cluster = load_cluster(cluster_file, require_secrets=False)
    assert [k.get_secret_value() for k in cluster.auth.keys] == ["sk-one", "sk-two"]
    assert cluster.auth.enabled
    assert "sk-one" not in repr(cluster), "keys are secrets in every repr"


async def test_worker_key_is_sent_on_stage_calls_and_probes(describer_fake: FakeVllmServer) -> None:
    with FakeVllmServer("base", adapters={"clean-a": "/a"}, api_key="worker-s3cret") as locked:
        locked.set_default(Behaviour(reply="What is the capital of France?"))
        overrides: dict[str, Any] = {"gateway": {"probe_adapters": True, "probe_interval_s": 60}}
        cluster = make_cluster(locked.base_url, describer_fake.base_url, overrides=overrides)
        workers = [
            w.model_copy(update={"api_key": SecretStr("worker-s3cret")}) if w.name == "cleaner-node" else w
            for w in cluster.workers
        ]
        async for client in started_client(create_app(cluster.model_copy(update={"workers": workers}))):
            ready = await client.get("/ready")
            body = (await client.post("/refine", json={"prompt": NOISY})).json()
        sent = {r.authorization for r in locked.requests()}
    endpoint = ready.json()["endpoints"]["cleaner-node"]
    assert endpoint["probe_ok"] is True, endpoint
    assert body["stages"]["cleaner"]["status"] == "ok"
    assert sent == {"Bearer worker-s3cret"}


async def test_no_key_and_no_prompt_text_in_the_logs(
    cleaner_fake: FakeVllmServer,
    describer_fake: FakeVllmServer,
    auth_overrides: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    prompt = "whta is the tallest mountian in zanzibarquux"
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=auth_overrides)
    caplog.set_level(logging.INFO)  # the default level
    async for client in started_client(create_app(cluster)):
        await client.post("/refine", json={"prompt": prompt}, headers={"authorization": f"Bearer {KEY}"})
        await client.post("/refine", json={"prompt": prompt}, headers={"authorization": "Bearer sk-wrong-key"})
        body = {"model": "mpr-refine", "messages": [{"role": "user", "content": prompt}]}
        await client.post(CHAT, json=body, headers={"authorization": f"Bearer {KEY}"})
    assert caplog.records, "the requests were logged"
    for secret in (KEY, "sk-wrong-key", "zanzibarquux", "mountian"):
        assert secret not in caplog.text


async def test_every_response_carries_a_request_id(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, auth_overrides: dict[str, Any]
) -> None:
    overrides = {**auth_overrides, "limits": {"max_body_bytes": 2048}}
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides=overrides)
    auth = {"authorization": f"Bearer {KEY}"}
    async for client in started_client(create_app(cluster)):
        responses = {
            "401": await client.post("/refine", json={"prompt": NOISY}),
            "413": await client.post("/refine", json={"prompt": "x" * 5000}, headers=auth),
            "400 validation": await client.post("/refine", json={"prompt": 3}, headers=auth),
            "400 idempotency key": await client.post(
                CHAT,
                json={"model": "mpr-refine", "messages": [{"role": "user", "content": NOISY}]},
                headers={**auth, "idempotency-key": " "},
            ),
            "404": await client.get("/nowhere", headers=auth),
            "200": await client.get("/health"),
        }
        echoed = await client.post("/refine", json={"prompt": 3}, headers={**auth, "x-request-id": "client-id-1"})
    for name, response in responses.items():
        assert response.headers.get("x-request-id", "").startswith("req-"), (name, dict(response.headers))
    assert echoed.headers["x-request-id"] == "client-id-1"
