"""litellm as a client of the gateway, and a litellm-kind target behind it (the lazy, offline import)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway
from gateway.http.app import create_app
from gateway.upstream.targets.litellm_transport import load_litellm
from tests.compat.conftest import TARGET
from tests.gateway.conftest import make_cluster, started_client

ROOT = Path(__file__).resolve().parents[2]
VIA_LITELLM = "via-litellm"


@pytest.fixture(scope="session")
def litellm() -> ModuleType:
    """litellm imported once per session, through the gateway's loader, with every non-loopback connect refused."""
    already = "litellm" in sys.modules
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"network access during the litellm import: {address}")
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", loopback_only)
        module = load_litellm()
    assert already or not attempts, f"litellm reached for the network at import: {attempts}"
    return module


def test_litellm_as_a_client(litellm: ModuleType, gateway: ServedGateway, answer: FakeVllmServer) -> None:
    answer.set_default(Behaviour(reply="Paris is the capital of France."))
    arguments: dict[str, Any] = {
        "model": f"openai/{TARGET}",
        "api_base": gateway.url + "/v1",
        "api_key": "unused",
        "messages": [{"role": "user", "content": "what is the captial of frane"}],
        "max_tokens": 32,
        "num_retries": 0,
    }
    response = litellm.completion(**arguments)
    assert response.choices[0].message.content == "Paris is the capital of France."
    assert answer.last_request.body["model"] == "base"
    stream = litellm.completion(**arguments, stream=True, stream_options={"include_usage": True})
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Paris is the capital of France."


@pytest.fixture
def answer_only() -> Iterator[tuple[FakeVllmServer, FakeVllmServer, FakeVllmServer]]:
    fakes = (
        FakeVllmServer("base", base_path="/models/base", adapters={"clean-a": "/adapters/clean-a"}).start(),
        FakeVllmServer("base", base_path="/models/base", adapters={"desc-a": "/adapters/desc-a"}).start(),
        FakeVllmServer("base", base_path="/models/base").start(),
    )
    yield fakes
    for fake in fakes:
        fake.stop()


@pytest.fixture
async def litellm_gateway(
    litellm: ModuleType, answer_only: tuple[FakeVllmServer, FakeVllmServer, FakeVllmServer]
) -> AsyncIterator[httpx.AsyncClient]:
    cleaner, describer, answer = answer_only
    target = {"kind": "litellm", "model": "openai/base", "api_base": answer.base_url, "api_key": "unused"}
    cluster = make_cluster(cleaner.base_url, describer.base_url, overrides={"targets": {VIA_LITELLM: target}})
    async for client in started_client(create_app(cluster)):
        yield client


async def test_a_litellm_target_answers(
    litellm_gateway: httpx.AsyncClient, answer_only: tuple[FakeVllmServer, FakeVllmServer, FakeVllmServer]
) -> None:
    cleaner, _, answer = answer_only
    cleaner.set_default(Behaviour(reply="Who was Ada Lovelace?"))
    body = {
        "model": VIA_LITELLM,
        "messages": [{"role": "user", "content": "who was ada lovelance"}],
        "seed": 3,
        "top_k": 4,
        "mpr": {"stages": ["cleaner"]},
    }
    response = await litellm_gateway.post("/v1/chat/completions", json=body, headers={"x-request-id": "lt-1"})
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["model"] == VIA_LITELLM
    assert payload["choices"][0]["message"]["content"] == "Who was Ada Lovelace?"
    assert payload["mpr"]["stages"]["cleaner"]["status"] == "ok"
    sent = answer.last_request
    assert sent.body["model"] == "base" and sent.body["seed"] == 3 and sent.body["top_k"] == 4
    assert sent.body["messages"] == [{"role": "user", "content": "Who was Ada Lovelace?"}]
    assert "mpr" not in sent.body and sent.request_id == "lt-1-target-a1"
    body["stream"] = True
    streamed = await litellm_gateway.post("/v1/chat/completions", json=body)
    assert streamed.headers["x-mpr-stages"].startswith("cleaner=ok")
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert "Lovelace" in streamed.text and f'"model":"{VIA_LITELLM}"' in streamed.text


async def test_a_litellm_target_error_keeps_its_status(
    litellm_gateway: httpx.AsyncClient, answer_only: tuple[FakeVllmServer, FakeVllmServer, FakeVllmServer]
) -> None:
    answer_only[2].set_default(Behaviour(status=400, error_message="bad sampling parameters"))
    body = {"model": VIA_LITELLM, "messages": [{"role": "user", "content": "Hello."}], "mpr": {"stages": []}}
    response = await litellm_gateway.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert "bad sampling parameters" in response.json()["error"]["message"]


def test_litellm_is_not_imported_without_a_litellm_target(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from gateway.upstream.targets.pool import TargetPool\n"
        "from tests.gateway.conftest import make_cluster\n"
        "target = {'kind': 'openai', 'base_url': 'http://127.0.0.1:9/v1', 'model': 'base'}\n"
        "url = 'http://127.0.0.1:9/v1'\n"
        "cluster = make_cluster(url, url, overrides={'targets': {'t': target}})\n"
        "pool = TargetPool.build(cluster)\n"
        "assert pool.names == ['t']\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
