"""The cleaner's offline data: deterministic, noisy in the intended ways, a disjoint held-out split."""

from __future__ import annotations

import random
import re
from pathlib import Path

from adapters.cleaner_data import DataSpec, generate, partitions, read_jsonl, write_jsonl
from adapters.cleaner_noise import OTHER_OPS, TYPO_OPS, corrupt, keyboard_neighbours, lower_proper
from adapters.cleaner_vocab import TEMPLATES

SPEC = DataSpec(prompts=400)


def test_generation_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    first, second = generate(SPEC), generate(SPEC)
    assert first == second
    digest = write_jsonl(first, tmp_path / "a.jsonl")
    assert digest == write_jsonl(second, tmp_path / "b.jsonl")
    assert read_jsonl(tmp_path / "a.jsonl") == first
    assert generate(DataSpec(prompts=400, seed=99)) != first


def test_every_noise_type_is_present() -> None:
    applied = {op for example in generate(SPEC) for op in example.noise}
    assert applied >= set(TYPO_OPS) | set(OTHER_OPS)


def test_heldout_is_disjoint_from_train() -> None:
    examples = generate(SPEC)
    train = {e.clean for e in examples if e.split == "train"}
    heldout = {e.clean for e in examples if e.split == "heldout"}
    assert heldout
    assert len(heldout) >= 0.08 * len(examples)
    assert not train & heldout


def template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z]+2?\}", template)
    body = "(.+)".join(re.escape(p) for p in parts)
    return re.compile(body, re.IGNORECASE)


def test_heldout_shares_no_template_and_no_slot_value_with_train() -> None:
    parts = partitions(DataSpec())
    for kind in TEMPLATES:
        assert parts["heldout"].templates[kind] and parts["train"].templates[kind]
        assert not set(parts["heldout"].templates[kind]) & set(parts["train"].templates[kind])
    for slot, values in parts["heldout"].values.items():
        assert len(values) >= 2 and not set(values) & set(parts["train"].values[slot])
    train_patterns = [template_pattern(t) for kind in TEMPLATES for t in parts["train"].templates[kind]]
    examples = generate(DataSpec())
    heldout = [e for e in examples if e.split == "heldout"]
    assert len(heldout) == round(DataSpec().prompts * DataSpec().heldout_share)
    train_values = {v.lower() for values in parts["train"].values.values() for v in values}
    for example in heldout:
        assert not any(p.fullmatch(example.clean) for p in train_patterns), example.clean
        filled = [
            m.groups()
            for kind in TEMPLATES
            for t in parts["heldout"].templates[kind]
            if (m := template_pattern(t).fullmatch(example.clean))
        ]
        assert filled, example.clean
        assert not {g.lower() for g in filled[0]} & train_values, example.clean


def test_clean_examples_are_identical_and_noisy_ones_differ() -> None:
    examples = generate(SPEC)
    kinds = {e.kind for e in examples}
    assert kinds == {"noisy", "clean", "injection"}
    for example in examples:
        if example.kind == "clean":
            assert example.noisy == example.clean
            assert example.noise == ()
        else:
            assert example.noisy != example.clean
            assert example.noise


def test_injection_prompts_are_cleaned_not_obeyed() -> None:
    injections = [e for e in generate(SPEC) if e.kind == "injection"]
    assert len(injections) >= 10
    for example in injections:
        # The target is the same instruction, corrected word for word: nothing is answered or carried out.
        noisy, clean = example.noisy.lower().split(), example.clean.lower().split()
        assert len(noisy) == len(clean)
        assert sum(a.strip(".?!") == b.strip(".?!") for a, b in zip(noisy, clean, strict=True)) >= len(clean) / 2


def test_quoted_text_and_first_letters_are_never_corrupted() -> None:
    rng = random.Random(3)
    text = "Translate the sentence 'good morning, my friend' into Spanish."
    for _ in range(200):
        noisy, _ops = corrupt(text, rng)
        assert "'good morning, my friend'" in noisy


def test_noise_helpers() -> None:
    assert set(keyboard_neighbours("s")) == {"a", "d", "w", "e", "z", "x"}
    assert lower_proper("Who was Ada Lovelace? I wonder.") == "Who was ada lovelace? I wonder."
