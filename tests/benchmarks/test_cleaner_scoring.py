"""Cleaner scoring by failure class, and the hand-written everyday set it runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cleaner_data import DataSpec, generate
from benchmarks.cleaner_scoring import (
    BLIND2_SET,
    BLIND3_SET,
    BLIND_SET,
    EVERYDAY_KINDS,
    EVERYDAY_SET,
    FRESH_SET,
    EvalItem,
    load_everyday,
    table,
    tally,
)
from config.cluster import SpellingConfig
from gateway.pipeline.lexicon import Lexicon


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(SpellingConfig())


ITEMS = [
    EvalItem("n1", "noisy", "explain how bridges are desinged", "Explain how bridges are designed."),
    EvalItem("n2", "noisy", "write a poem about the oceann", "Write a poem about the ocean."),
    EvalItem("c1", "clean", "Why is the sky blue?", "Why is the sky blue?"),
    EvalItem("r1", "realword", "their is a problem", "There is a problem."),
]


def test_each_failure_class_is_counted(lexicon: Lexicon) -> None:
    outputs = [
        "Explain how brides are designed.",  # request changed: "bridges" was spelled right
        "Write a poem about the theoscean.",  # a non-word in no input
        "Why is the sky blue today?",  # clean changed
        "There is a problem.",  # exact
    ]
    result = tally("system", ITEMS, outputs, lexicon)
    assert (result.to_fix, result.fixed) == (3, 1)
    assert (result.unchanged_expected, result.changed) == (1, 1)
    assert result.request_changed == 1 and result.nonword == 1
    assert result.by_kind == {"noisy": [0, 2], "clean": [0, 1], "realword": [1, 1]}
    classes = {f.id: f.classes for f in result.failures}
    assert classes["n1"] == ("not fixed exactly", "request changed")
    assert classes["n2"] == ("not fixed exactly", "non-word introduced")
    assert "theoscean" in {w for f in result.failures for w in f.words}
    assert "| system | 1/3 (33.3%) | 1/1 (100.0%) |" in table("t", [result], ["noisy"])


def test_perfect_outputs_have_no_failures(lexicon: Lexicon) -> None:
    result = tally("ideal", ITEMS, [i.reference for i in ITEMS], lexicon)
    assert result.fixed == result.to_fix and result.changed == 0 and not result.failures


@pytest.mark.parametrize("path", [EVERYDAY_SET, FRESH_SET, BLIND_SET, BLIND2_SET, BLIND3_SET], ids=lambda p: p.stem)
def test_each_hand_written_set_is_independent_of_the_generator(path: Path) -> None:
    items = load_everyday(path)
    assert len(items) >= 40
    kinds = {k: [i for i in items if i.kind == k] for k in EVERYDAY_KINDS}
    assert all(len(group) >= 6 for group in kinds.values())
    assert all(i.to_fix for i in kinds["noisy"] + kinds["realword"])
    assert not any(i.to_fix for i in kinds["clean"])
    assert len({i.id for i in items}) == len(items)
    generated = {e.clean for e in generate(DataSpec())} | {e.noisy for e in generate(DataSpec())}
    assert not generated & ({i.prompt for i in items} | {i.reference for i in items})


def test_no_prompt_is_in_two_hand_written_sets() -> None:
    seen: dict[str, str] = {}
    for path in (EVERYDAY_SET, FRESH_SET, BLIND_SET, BLIND2_SET, BLIND3_SET):
        for item in load_everyday(path):
            assert item.prompt not in seen, f"{item.id} repeats {seen[item.prompt]}"
            seen[item.prompt] = item.id
