"""The cleaner's training data, made offline: templated clean prompts, realistic noise, a held-out split."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from adapters.cleaner_noise import corrupt
from adapters.cleaner_vocab import TEMPLATES, slot_values

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


def fill(template: str, rng: random.Random) -> str:
    """Fill `{slot}` placeholders from the entity/topic lists; a repeated slot gets distinct values."""
    out = template
    used: set[str] = set()
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        slot = out[start + 1 : end].rstrip("2")
        choices = [value for value in slot_values(slot) if value not in used]
        value = rng.choice(choices)
        used.add(value)
        out = out[:start] + value + out[end + 1 :]
    return out[0].upper() + out[1:]


def clean_prompts(spec: DataSpec, rng: random.Random) -> list[tuple[str, bool]]:
    """Distinct clean prompts as (text, is_injection), in a seeded order."""
    seen: dict[str, bool] = {}
    kinds = sorted(TEMPLATES)
    attempts = 0
    while len(seen) < spec.prompts and attempts < spec.prompts * 20:
        attempts += 1
        kind = rng.choice(kinds)
        text = fill(rng.choice(TEMPLATES[kind]), rng)
        seen.setdefault(text, kind == "injection")
    return list(seen.items())


def _example(text: str, injection: bool, clean: bool, split: str, rng: random.Random) -> CleanerExample:
    if clean:
        return CleanerExample(text, text, "clean", (), split)
    noisy, ops = corrupt(text, rng)
    return CleanerExample(noisy, text, "injection" if injection else "noisy", ops, split)


def generate(spec: DataSpec) -> list[CleanerExample]:
    """Held-out prompts are distinct clean texts never seen in training (split by clean text)."""
    rng = random.Random(spec.seed)
    prompts = clean_prompts(spec, rng)
    heldout = max(1, round(len(prompts) * spec.heldout_share))
    out: list[CleanerExample] = []
    for index, (text, injection) in enumerate(prompts):
        split = "heldout" if index < heldout else "train"
        out.append(_example(text, injection, rng.random() < spec.clean_share, split, rng))
    return out


def write_jsonl(examples: Iterable[CleanerExample], path: Path) -> str:
    """Write one example per line; returns the file's sha256 (recorded in the training metrics)."""
    text = "".join(example.to_json() + "\n" for example in examples)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def read_jsonl(path: Path) -> list[CleanerExample]:
    return [CleanerExample.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(examples: list[CleanerExample]) -> str:
    """`1440 train / 160 heldout; noisy 1010, clean 320, injection 270`."""
    splits = {name: sum(1 for e in examples if e.split == name) for name in ("train", "heldout")}
    kinds = {name: sum(1 for e in examples if e.kind == name) for name in KINDS}
    return f"{splits['train']} train / {splits['heldout']} heldout; " + ", ".join(f"{k} {n}" for k, n in kinds.items())
