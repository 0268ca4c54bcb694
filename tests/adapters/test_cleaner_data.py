"""The cleaner's offline data: deterministic, noisy in the intended ways, a disjoint held-out split."""

from __future__ import annotations

import random
from pathlib import Path

from adapters.cleaner_data import DataSpec, generate, read_jsonl, write_jsonl
from adapters.cleaner_noise import OTHER_OPS, TYPO_OPS, corrupt, keyboard_neighbours, lower_proper

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
