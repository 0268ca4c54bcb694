"""The grounded describer's training data, made from the corpus: a prompt about an article (often with a typo),
the passages the index retrieves for it (distractors included) -> the article's lead sentence(s), verbatim.

Split by article: a held-out article never appears in training, as the subject or as a distractor. Held-out
articles are also drawn only from the retrieval calibration's held-out half (benchmarks/knowledge_calibration.py),
and held-out prompts use their own templates.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from adapters.cleaner_noise import add_typo
from adapters.jsonl_examples import write_jsonl_examples
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.linking import Passage
from adapters.knowledge.text import sentences

TEMPLATES = {
    "train": (
        "what is {}",
        "tell me about {}",
        "who was {}",
        "what do you know about {}",
        "explain {} to me",
        "{}",
        "write a short paragraph about {}",
        "what should i know about {}?",
        "summarize {} for a student",
    ),
    "heldout": (
        "give me some background on {}",
        "i'd like to learn about {}",
        "why is {} important",
        "describe {} briefly",
        "can you tell me something about {}?",
    ),
}
MAX_TARGET_CHARS = 260  # the describer decodes at most 64 tokens; a longer lead would be cut mid-sentence
SHORT_LEAD_WORDS = 10  # a lead this short ("Paris is the capital of France.") is followed by the next sentence


@dataclass(frozen=True)
class DescriberExample:
    """One example: the prompt, its passages as (title, text) in retrieval order, the gold article and target."""

    prompt: str
    passages: tuple[tuple[str, str], ...]
    title: str
    target: str
    typo: bool
    split: str  # train | heldout

    def to_json(self) -> str:
        data = {**asdict(self), "passages": [list(p) for p in self.passages]}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> DescriberExample:
        d = json.loads(line)
        passages = tuple((str(t), str(x)) for t, x in d["passages"])
        return cls(str(d["prompt"]), passages, str(d["title"]), str(d["target"]), bool(d["typo"]), str(d["split"]))


@dataclass(frozen=True)
class DescriberSpec:
    """How much to generate; the seed makes the output identical between runs of the same index."""

    seed: int = 17
    train: int = 400  # training examples (articles, one prompt each)
    heldout: int = 80
    typo_share: float = 0.5
    top_k: int = 3  # as config/local.yaml's knowledge section
    min_score: float = 0.508
    max_passage_chars: int = 600
    distractor_share: float = 0.5  # of examples with a single relevant passage: add one unrelated article


def calibration_half(title: str) -> str:
    """The retrieval calibration's split of an article (benchmarks/knowledge_calibration.split_of)."""
    return "calibration" if hashlib.sha256(title.encode()).digest()[0] % 2 == 0 else "held_out"


def split_of(title: str) -> str:
    """heldout: a quarter of the calibration's held-out half; train: every other article."""
    digest = hashlib.sha256(title.encode()).digest()
    return "heldout" if calibration_half(title) == "held_out" and digest[1] % 4 == 0 else "train"


def lead(text: str) -> str:
    """The article's lead sentence, with the next one when the lead is very short; "" when too long."""
    pieces = sentences(text)
    if not pieces:
        return ""
    out = pieces[0]
    if len(out.split()) < SHORT_LEAD_WORDS and len(pieces) > 1:
        out = f"{out} {pieces[1]}"
    return out if len(out) <= MAX_TARGET_CHARS else ""


def articles(index_path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
    try:
        return [(str(t), str(x)) for t, x in db.execute("SELECT title, text FROM articles ORDER BY id")]
    finally:
        db.close()


def name_of(title: str) -> str:
    return title.split(" (")[0]


def ask(title: str, split: str, typo: bool, rng: random.Random) -> str:
    name = name_of(title)
    name = name.lower() if rng.random() < 0.6 else name
    if typo:
        name, _ = add_typo(name, rng)
    return rng.choice(TEMPLATES[split]).format(name)


def passages_for(
    found: list[Passage], gold: str, pool: list[tuple[str, str]], spec: DescriberSpec, rng: random.Random
) -> tuple[tuple[str, str], ...] | None:
    """The passages the gateway would send (above min_score, top_k), None when the gold article is not among them."""
    relevant = [(p.title, p.text) for p in found if p.score >= spec.min_score][: spec.top_k]
    if gold not in {t for t, _ in relevant}:
        return None
    if len(relevant) == 1 and rng.random() < spec.distractor_share:
        relevant.insert(rng.randrange(2), rng.choice(pool))
    return tuple((t, x[: spec.max_passage_chars]) for t, x in relevant)


def generate(index_path: Path, spec: DescriberSpec) -> list[DescriberExample]:
    """Examples for both splits; no held-out article appears in a training example (subject or distractor)."""
    rng = random.Random(spec.seed)
    corpus = articles(index_path)
    by_split = {s: [(t, x) for t, x in corpus if split_of(t) == s] for s in ("train", "heldout")}
    wanted = {"train": spec.train, "heldout": spec.heldout}
    index = KnowledgeIndex.open(index_path)
    out: list[DescriberExample] = []
    try:
        for split, pool in by_split.items():
            made = 0
            for title, text in rng.sample(pool, len(pool)):
                target = lead(text)
                if made >= wanted[split] or not target:
                    continue
                typo = rng.random() < spec.typo_share
                prompt = ask(title, split, typo, rng)
                found = index.retrieve(prompt, spec.top_k)
                if split == "train":  # a held-out article is never seen in training, even as a distractor
                    found = [p for p in found if split_of(p.title) == "train"]
                passages = passages_for(found, title, pool, spec, rng)
                if passages is not None:
                    out.append(DescriberExample(prompt, passages, title, target, typo, split))
                    made += 1
    finally:
        index.close()
    return out


def write_jsonl(examples: Iterable[DescriberExample], path: Path) -> str:
    """Write one example per line; returns the file's sha256 (recorded in the training metrics)."""
    return write_jsonl_examples(examples, path)


def read_jsonl(path: Path) -> list[DescriberExample]:
    return [DescriberExample.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(examples: list[DescriberExample]) -> str:
    """`400 train / 80 heldout articles; 240 typo'd prompts; 130 with a distractor`."""
    splits = {name: sum(1 for e in examples if e.split == name) for name in ("train", "heldout")}
    typos = sum(1 for e in examples if e.typo)
    several = sum(1 for e in examples if len(e.passages) > 1)
    return (
        f"{splits['train']} train / {splits['heldout']} heldout articles; {typos} typo'd prompts;"
        f" {several} with distractor passages"
    )
