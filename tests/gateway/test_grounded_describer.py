"""The grounded describer through the gateway: retrieval gates the stage, the guard keeps supported sentences only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.fakes import Behaviour, FakeVllmServer
from config import Cluster
from config.stage_messages import PASSAGES_OPEN, PROMPT_OPEN
from gateway.http.app import create_app
from tests.gateway.conftest import make_cluster, started_client
from tests.knowledge_corpus import build_small_index


@pytest.fixture(scope="module")
def index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_index(tmp_path_factory.mktemp("knowledge"))


def _cluster(cleaner: FakeVllmServer, describer: FakeVllmServer, index: Path, **knowledge: Any) -> Cluster:
    return make_cluster(
        cleaner.base_url, describer.base_url, overrides={"knowledge": {"index": str(index), **knowledge}}
    )


@pytest.fixture
async def grounded(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, index_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started_client(create_app(_cluster(cleaner_fake, describer_fake, index_path))):
        yield client


async def test_the_describer_gets_the_passages_and_only_grounded_sentences_are_kept(
    grounded: httpx.AsyncClient, describer_fake: FakeVllmServer
) -> None:
    describer_fake.set_default(
        Behaviour(reply="France is a country in Western Europe. France has a population of about 69 million.")
    )
    body = (await grounded.post("/refine", json={"prompt": "what is the captial of frane?"})).json()
    describer = body["stages"]["describer"]
    assert describer["status"] == "ok", describer
    assert "1 dropped" in describer["reason"], "the sentence with a changed number was dropped"
    assert body["knowledge"] == [
        {"text": "France is a country in Western Europe.", "source": "France", "score": body["knowledge"][0]["score"]}
    ]
    assert body["knowledge"][0]["score"] > 0.5
    assert body["refined_prompt"].endswith("- France is a country in Western Europe. (Wikipedia: France)")
    user = describer_fake.last_request.body["messages"][-1]["content"]
    assert user.startswith(PASSAGES_OPEN) and '<passage title="France">' in user and PROMPT_OPEN in user


async def test_a_fabricated_answer_is_replaced_by_the_extractive_background(
    grounded: httpx.AsyncClient, describer_fake: FakeVllmServer
) -> None:
    describer_fake.set_default(Behaviour(reply="Penicillin was discovered in 1929 by Louis Pasteur in Paris."))
    body = (await grounded.post("/refine", json={"prompt": "who discovered penicilin"})).json()
    describer = body["stages"]["describer"]
    assert describer["status"] == "rejected" and describer["reason_class"] == "ungrounded", describer
    assert body["knowledge"], "the extractive fallback filled in"
    assert all(item["source"] == "Penicillin" for item in body["knowledge"])
    assert "Pasteur" not in body["refined_prompt"] and "1929" not in body["refined_prompt"]


async def test_a_failed_describer_falls_back_to_the_extractive_background(
    grounded: httpx.AsyncClient, describer_fake: FakeVllmServer
) -> None:
    describer_fake.set_default(Behaviour(status=500))
    body = (await grounded.post("/refine", json={"prompt": "who was napolean"})).json()
    describer = body["stages"]["describer"]
    assert describer["status"] == "fallback" and describer["reason"].endswith("extractive background used")
    assert body["knowledge"][0]["source"] == "Napoleon"
    assert "Napoleon" in body["refined_prompt"]


@pytest.mark.parametrize(
    "prompt", ["who is quintar malveen", "what is 17 * 23", "fix the grammar of this sentence: me and him goes home"]
)
async def test_no_background_and_no_describer_call_when_nothing_known_is_named(
    grounded: httpx.AsyncClient, describer_fake: FakeVllmServer, prompt: str
) -> None:
    body = (await grounded.post("/refine", json={"prompt": prompt})).json()
    assert body["stages"]["describer"]["status"] == "skipped", body["stages"]["describer"]
    assert body["knowledge"] == []
    assert describer_fake.count() == 0


async def test_the_extractive_writer_calls_no_describer(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, index_path: Path
) -> None:
    cluster = _cluster(cleaner_fake, describer_fake, index_path, writer="extractive")
    async for client in started_client(create_app(cluster)):
        body = (await client.post("/refine", json={"prompt": "how hot is the sun"})).json()
    describer = body["stages"]["describer"]
    assert describer["status"] == "ok" and describer["reason_class"] == "extractive", describer
    assert body["knowledge"][0]["source"] == "Sun"
    assert describer_fake.count() == 0


async def test_a_missing_index_is_a_clear_start_up_error(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, tmp_path: Path
) -> None:
    from config import ConfigError

    app = create_app(_cluster(cleaner_fake, describer_fake, tmp_path / "nowhere.sqlite"))
    with pytest.raises(ConfigError, match=r"knowledge\.index"):
        async for _ in started_client(app):
            pass
