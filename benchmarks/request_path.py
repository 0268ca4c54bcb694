"""The gateway modules one request runs through: a refine and a relayed chat, on fake workers, traced in-process.

    python -m benchmarks.request_path

Prints, per kind of request, the number of `gateway` modules whose code ran while it was served (after two
warm-up requests), by layer folder, and writes `benchmarks/results/request_path.json`.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from benchmarks.fakes.vllm_server import FakeVllmServer
from benchmarks.harness import write_json
from config import Cluster
from gateway.http.app import create_app

GATEWAY_DIR = str(Path(__file__).resolve().parent.parent / "gateway") + "/"
REFINE = {"prompt": "who was ada lovelance and what did she write"}
CHAT = {"model": "target", "messages": [{"role": "user", "content": "who was ada lovelance"}]}


def _cluster(cleaner: str, describer: str, target: str) -> Cluster:
    stage: dict[str, Any] = {"timeout_s": 5.0, "system_prompt": "Refine the prompt between the tags."}
    return Cluster.model_validate(
        {
            "gateway": {"probe_adapters": False},
            "models": {"base": {"path": "/models/base"}},
            "adapters": {
                "clean-a": {"role": "cleaner", "tier": "small", "base": "base", "path": "/adapters/clean-a", "rank": 8},
                "desc-a": {"role": "describer", "tier": "small", "base": "base", "path": "/adapters/desc-a", "rank": 8},
            },
            "workers": [
                {"name": "cleaner-node", "node": "jw2", "url": cleaner, "base": "base", "adapters": ["clean-a"]},
                {"name": "describer-node", "node": "jw3", "url": describer, "base": "base", "adapters": ["desc-a"]},
            ],
            "stages": {
                "cleaner": {**stage, "adapters": {"small": "clean-a"}},
                "describer": {**stage, "adapters": {"small": "desc-a"}},
            },
            "targets": {"target": {"kind": "openai", "base_url": target, "model": "base"}},
        }
    )


async def _traced(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[str]:
    seen: collections.Counter[str] = collections.Counter()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        name = frame.f_code.co_filename
        if event == "call" and name.startswith(GATEWAY_DIR):
            seen[name.removeprefix(GATEWAY_DIR)] += 1

    sys.setprofile(profile)
    try:
        response = await client.post(path, json=body)
    finally:
        sys.setprofile(None)
    response.raise_for_status()
    return sorted(seen)


async def _measure(cluster: Cluster) -> dict[str, list[str]]:
    app = create_app(cluster)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://g") as client:
        for _ in range(2):
            await client.post("/refine", json=REFINE)
            await client.post("/v1/chat/completions", json=CHAT)
        return {
            "refine": await _traced(client, "/refine", REFINE),
            "relay": await _traced(client, "/v1/chat/completions", CHAT),
        }


def main() -> int:
    fakes = [
        FakeVllmServer("base", base_path="/models/base", adapters=adapters).start()
        for adapters in ({"clean-a": "/adapters/clean-a"}, {"desc-a": "/adapters/desc-a"}, {})
    ]
    try:
        paths = asyncio.run(_measure(_cluster(*(f.base_url for f in fakes))))
    finally:
        for fake in fakes:
            fake.stop()
    for kind, modules in paths.items():
        layers = collections.Counter(m.split("/")[0] if "/" in m else "(root)" for m in modules)
        print(f"{kind}: {len(modules)} modules ({', '.join(f'{k} {v}' for k, v in sorted(layers.items()))})")
        print("   " + " ".join(modules))
    write_json(Path(__file__).resolve().parent / "results" / "request_path.json", dict(paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
