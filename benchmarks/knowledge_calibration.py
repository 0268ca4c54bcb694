"""Calibrates the retrieval threshold (`knowledge.min_score`) and measures retrieval on held-out prompts.

One command: `python -m benchmarks.knowledge_calibration` (table on stdout, JSON and PNG in benchmarks/results/).

Positives are prompts about corpus articles, clean and with one typo in the name, split **by article** (a hash
of the title) into a calibration half and a held-out half that also use disjoint templates. Negatives
(benchmarks/data/knowledge_negatives.jsonl) need no background — tasks on given text, arithmetic, code,
chit-chat — or name things in no article; their two splits are written with different phrasings. More
negatives put invented names (pseudo-words no article has) into phrases that name real things ("the X
theorem"), again with disjoint phrasings per split. The threshold
is chosen on the calibration split only (the score that best separates "a positive gets background" from "a
negative gets background", each score smoothed so the cut sits mid-gap) and then reported on the held-out split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from adapters.cleaner_noise import add_typo
from adapters.demo import default_demo_dir
from adapters.knowledge.demo_corpus import build_demo_index, demo_index_path
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.text import name_key
from adapters.progress import Progress
from benchmarks.knowledge_corpus import pseudo_word
from config.environment import MprEnvironment

DATA = Path(__file__).resolve().parent / "data" / "knowledge_negatives.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"
TEMPLATES = {
    "calibration": (
        "what is {}",
        "tell me about {}",
        "who was {}",
        "what do you know about {}",
        "explain {} to me",
        "{}",
    ),
    "held_out": (
        "give me some background on {}",
        "i'd like to learn about {}",
        "why is {} important",
        "describe {} briefly",
        "what's the history of {}",
        "can you tell me something about {}?",
    ),
}
# Invented names (pseudo-words no article has) in phrases that do name real things: "the X theorem" must not
# link Theorem. Disjoint phrasings per split.
UNKNOWN_TEMPLATES = {
    "calibration": (
        "who is {a} {b}",
        "what is the {a} theorem",
        "where is the town of {a}",
        "tell me about the {a} empire",
        "what did {a} {b} invent",
        "explain the {a} effect",
    ),
    "held_out": (
        "who was the painter {a} {b}",
        "what happened at the battle of {a}",
        "where does the {a} tribe live",
        "who founded the {a} dynasty",
        "what is {a} syndrome",
        "tell me about professor {a} {b}",
    ),
}
SEED_PROMPTS = (
    ("what is the captial of frane", "France"),
    ("who was napolean", "Napoleon"),
    ("who discovered penicilin", "Penicillin"),
)


@dataclass(frozen=True)
class Case:
    prompt: str
    gold: str  # "" for a negative
    group: str  # clean / typo / seed, or the negative's kind
    split: str


@dataclass(frozen=True)
class Scored:
    case: Case
    top_title: str
    top_score: float
    in_top3: bool


def split_of(title: str) -> str:
    return "calibration" if hashlib.sha256(title.encode()).digest()[0] % 2 == 0 else "held_out"


def positives(index_path: Path, per_split: int, seed: int) -> list[Case]:
    """Prompts about unambiguous articles (their bare name names no other article), clean and typo'd."""
    db = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
    try:
        titles = [t for (t,) in db.execute("SELECT title FROM articles ORDER BY id")]
        shared = {k for (k,) in db.execute("SELECT key FROM names GROUP BY key HAVING count(*) > 1")}
    finally:
        db.close()
    rng = random.Random(seed)
    cases: list[Case] = []
    for split, templates in TEMPLATES.items():
        pool = [t for t in titles if split_of(t) == split and name_key(t.split(" (")[0]) not in shared]
        for title in rng.sample(pool, min(per_split, len(pool))):
            name = title.split(" (")[0].lower()
            template = rng.choice(templates)
            cases.append(Case(template.format(name), title, "clean", split))
            typo, op = add_typo(name, rng)
            if op:
                cases.append(Case(rng.choice(templates).format(typo), title, "typo", split))
    cases += [Case(p, g, "seed", "held_out") for p, g in SEED_PROMPTS]
    return cases


def invented(index: KnowledgeIndex, per_split: int, seed: int) -> list[Case]:
    """Prompts about invented names: pseudo-words the index neither has nor reads as a misspelling of a word
    it has (one that does, "gales" for "wales", is a typo to fix, not an unknown name)."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for split, templates in UNKNOWN_TEMPLATES.items():
        while sum(c.split == split for c in cases) < per_split:
            a, b = (pseudo_word(rng.randrange(10**6), 2) for _ in range(2))
            if not index.spellings(a) and not index.spellings(b):
                cases.append(Case(rng.choice(templates).format(a=a, b=b), "", "invented_name", split))
    return cases


def negatives(path: Path) -> list[Case]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Case(r["prompt"], "", r["kind"], r["split"]) for r in rows]


def score_all(index: KnowledgeIndex, cases: Sequence[Case]) -> list[Scored]:
    out = []
    for case in cases:
        found = index.retrieve(case.prompt, 3)
        top = found[0] if found else None
        out.append(
            Scored(case, top.title if top else "", top.score if top else 0.0, any(p.title == case.gold for p in found))
        )
    return out


def choose_threshold(scored: Sequence[Scored], bandwidth: float = 0.05) -> float:
    """The cut that best separates positives with background from negatives with background.

    It maximises TPR - FPR with each score smoothed by a Gaussian of `bandwidth`, so the cut lands in the middle
    of the widest gap between the two score distributions instead of just above the highest negative.
    """
    pos = [s.top_score for s in scored if s.case.gold]
    neg = [s.top_score for s in scored if not s.case.gold]

    def above(scores: Sequence[float], cut: float) -> float:
        return sum(0.5 * math.erfc((cut - x) / (bandwidth * math.sqrt(2.0))) for x in scores) / len(scores)

    grid = [i / 1000 for i in range(1, 1000)]
    return max(grid, key=lambda cut: (round(above(pos, cut) - above(neg, cut), 9), -cut))


def report(scored: Sequence[Scored], threshold: float) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Scored]] = {}
    for s in scored:
        groups.setdefault(f"{s.case.split}/{s.case.group}", []).append(s)
    out: dict[str, dict[str, float]] = {}
    for name, items in sorted(groups.items()):
        above = [s for s in items if s.top_score >= threshold]
        row: dict[str, float] = {"n": len(items), "background": len(above) / len(items)}
        if items[0].case.gold:
            row["hit@1"] = sum(s.top_title == s.case.gold for s in above) / len(items)
            row["hit@3"] = sum(s.in_top3 for s in items) / len(items)
        out[name] = row
    return out


def table(rows: dict[str, dict[str, float]], threshold: float) -> str:
    lines = [
        f"threshold (min_score) = {threshold}",
        f"{'split/group':<28} {'n':>4} {'hit@1':>6} {'hit@3':>6} {'background':>10}",
    ]
    for name, row in rows.items():
        hit1 = f"{row['hit@1']:.3f}" if "hit@1" in row else "-"
        hit3 = f"{row['hit@3']:.3f}" if "hit@3" in row else "-"
        lines.append(f"{name:<28} {int(row['n']):>4} {hit1:>6} {hit3:>6} {row['background']:>10.3f}")
    return "\n".join(lines)


def plot(scored: Sequence[Scored], threshold: float, path: Path) -> Path | None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for axis, split in zip(axes, ("calibration", "held_out"), strict=True):
        pos = [s.top_score for s in scored if s.case.split == split and s.case.gold]
        neg = [s.top_score for s in scored if s.case.split == split and not s.case.gold]
        axis.hist([pos, neg], bins=25, range=(0, 1), label=["about an article", "no background"], stacked=False)
        axis.axvline(threshold, color="black", linestyle="--", label=f"min_score {threshold}")
        axis.set_title(f"{split}: top retrieval score")
        axis.set_xlabel("score")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.knowledge_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None, help="index file (default: the demo index, built once)")
    parser.add_argument("--per-split", type=int, default=200, help="articles sampled per split")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--show", choices=sorted(TEMPLATES), default="calibration", help="whose misses to print")
    args = parser.parse_args(argv)
    env = MprEnvironment()
    progress = Progress()
    path = args.index
    if path is None:
        demo = default_demo_dir(env)
        path = build_demo_index(Path(sys.executable), demo / "downloads", demo_index_path(demo), progress)
    index = KnowledgeIndex.open(path)
    try:
        cases = positives(path, args.per_split, args.seed) + negatives(DATA) + invented(index, 60, args.seed)
        scored = score_all(index, cases)
    finally:
        index.close()
    threshold = choose_threshold([s for s in scored if s.case.split == "calibration"])
    rows = report(scored, threshold)
    print(table(rows, threshold))
    misses = [
        s
        for s in scored
        if s.case.split == args.show
        and (s.case.gold != s.top_title or not s.case.gold)
        and (s.case.gold or s.top_score >= threshold)
    ]
    for miss in misses[:25]:
        print(
            f"  {args.show} miss: {miss.case.prompt!r} -> {miss.top_title!r} {miss.top_score:.3f} ({miss.case.gold!r})",
            file=sys.stderr,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "threshold": threshold,
        "index": str(path),
        "groups": rows,
        "cases": [{**asdict(s.case), "top": s.top_title, "score": s.top_score} for s in scored],
    }
    (RESULTS / "knowledge_calibration.json").write_text(json.dumps(payload, indent=2) + "\n")
    png = plot(scored, threshold, RESULTS / "knowledge_calibration.png")
    print(f"results: {RESULTS / 'knowledge_calibration.json'}" + (f", {png}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
