"""The cleaner's training data, made offline: templated clean prompts, realistic noise, a template-disjoint split."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from adapters.cleaner_noise import corrupt
from adapters.cleaner_vocab import SLOT_TEXT, TEMPLATES, slot_values
from adapters.jsonl_examples import write_jsonl_examples

KINDS = ("noisy", "clean", "injection")


@dataclass(frozen=True)
class CleanerExample:
    """One pair: the prompt as typed (`noisy`) and what the cleaner must return (`clean`)."""

    noisy: str
    clean: str
    kind: str  # noisy | clean (target identical) | injection (an instruction-like prompt to clean, not obey)
    noise: tuple[str, ...]  # the noise operations applied, empty for clean examples
    split: str  # train | heldout

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "noise": list(self.noise)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> CleanerExample:
        data = json.loads(line)
        return cls(str(data["noisy"]), str(data["clean"]), str(data["kind"]), tuple(data["noise"]), str(data["split"]))


@dataclass(frozen=True)
class DataSpec:
    """How much to generate; the seed makes the output byte-identical between runs."""

    seed: int = 13
    prompts: int = 1600  # distinct clean prompts
    heldout_share: float = 0.1
    clean_share: float = 0.2  # of each split: unchanged prompts whose target is the prompt itself
    # Held out whole: this share of each kind's templates and of each slot's values (names, places, topics ...).
    heldout_template_share: float = 0.25
    heldout_value_share: float = 0.35


@dataclass(frozen=True)
class Partition:
    """The templates and slot values one split is rendered from; the two splits share none."""

    templates: dict[str, tuple[str, ...]]
    values: dict[str, tuple[str, ...]]


def _held(items: list[str], share: float, minimum: int, rng: random.Random) -> set[str]:
    count = min(len(items) - 1, max(minimum, round(len(items) * share)))
    return set(rng.sample(items, count))


def partitions(spec: DataSpec) -> dict[str, Partition]:
    """`train` and `heldout`: disjoint templates per kind and disjoint values per slot, chosen by the seed."""
    rng = random.Random(f"split-{spec.seed}")
    templates: dict[str, dict[str, tuple[str, ...]]] = {"train": {}, "heldout": {}}
    for kind in sorted(TEMPLATES):
        held = _held(list(TEMPLATES[kind]), spec.heldout_template_share, 1, rng)
        templates["heldout"][kind] = tuple(t for t in TEMPLATES[kind] if t in held)
        templates["train"][kind] = tuple(t for t in TEMPLATES[kind] if t not in held)
    values: dict[str, dict[str, tuple[str, ...]]] = {"train": {}, "heldout": {}}
    for slot in sorted(SLOT_TEXT):
        choices = slot_values(slot)
        held = _held(choices, spec.heldout_value_share, 2, rng)  # two: a template may use a slot twice
        values["heldout"][slot] = tuple(v for v in choices if v in held)
        values["train"][slot] = tuple(v for v in choices if v not in held)
    return {split: Partition(templates[split], values[split]) for split in ("train", "heldout")}


def fill(template: str, values: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    """Fill `{slot}` placeholders from `values`; a repeated slot gets distinct values."""
    out = template
    used: set[str] = set()
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        slot = out[start + 1 : end].rstrip("2")
        choices = [value for value in values[slot] if value not in used]
        value = rng.choice(choices)
        used.add(value)
        out = out[:start] + value + out[end + 1 :]
    return out[0].upper() + out[1:]


def clean_prompts(count: int, partition: Partition, rng: random.Random) -> list[tuple[str, bool]]:
    """Up to `count` distinct clean prompts of one partition as (text, is_injection), in a seeded order."""
    seen: dict[str, bool] = {}
    kinds = sorted(partition.templates)
    attempts = 0
    while len(seen) < count and attempts < count * 20:
        attempts += 1
        kind = rng.choice(kinds)
        text = fill(rng.choice(partition.templates[kind]), partition.values, rng)
        seen.setdefault(text, kind == "injection")
    return list(seen.items())


def _example(text: str, injection: bool, clean: bool, split: str, rng: random.Random) -> CleanerExample:
    if clean:
        return CleanerExample(text, text, "clean", (), split)
    noisy, ops = corrupt(text, rng)
    return CleanerExample(noisy, text, "injection" if injection else "noisy", ops, split)


def generate(spec: DataSpec) -> list[CleanerExample]:
    """Held-out prompts come from templates and slot values that training never sees (a template-disjoint split)."""
    rng = random.Random(spec.seed)
    parts = partitions(spec)
    heldout = max(1, round(spec.prompts * spec.heldout_share))
    out: list[CleanerExample] = []
    for split, count in (("heldout", heldout), ("train", spec.prompts - heldout)):
        for text, injection in clean_prompts(count, parts[split], rng):
            out.append(_example(text, injection, rng.random() < spec.clean_share, split, rng))
    return out


def write_jsonl(examples: Iterable[CleanerExample], path: Path) -> str:
    """Write one example per line; returns the file's sha256 (recorded in the training metrics)."""
    return write_jsonl_examples(examples, path)


def read_jsonl(path: Path) -> list[CleanerExample]:
    return [CleanerExample.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(examples: list[CleanerExample]) -> str:
    """`1440 train / 160 heldout; noisy 1010, clean 320, injection 270`."""
    splits = {name: sum(1 for e in examples if e.split == name) for name in ("train", "heldout")}
    kinds = {name: sum(1 for e in examples if e.kind == name) for name in KINDS}
    return f"{splits['train']} train / {splits['heldout']} heldout; " + ", ".join(f"{k} {n}" for k, n in kinds.items())
