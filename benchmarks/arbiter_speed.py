"""Arbiter and local-cleaner speed per prompt, and the resident memory the spelling lexicon costs."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.prompt_set import DEFAULT_SET, load_prompt_set
from benchmarks.scoring import percentile
from config.cluster import ArbiterConfig
from gateway.pipeline import arbiter
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import local_clean


def rss_mb() -> float:
    """This process's resident set size from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def timed(prompts: Sequence[str], rounds: int, run: object) -> list[float]:
    assert callable(run)
    per_prompt: list[float] = []
    for prompt in prompts:
        started = time.perf_counter()
        for _ in range(rounds):
            run(prompt)
        per_prompt.append((time.perf_counter() - started) * 1000.0 / rounds)
    return per_prompt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.arbiter_speed", description=__doc__)
    parser.add_argument("--prompts", type=Path, default=DEFAULT_SET)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    config = ArbiterConfig()
    before = rss_mb()
    started = time.perf_counter()
    lexicon = Lexicon.load(config.spelling)
    load_s = time.perf_counter() - started
    after = rss_mb()
    print(f"lexicon: load {load_s:.2f} s, RSS {before:.1f} -> {after:.1f} MB (+{after - before:.1f} MB)")
    prompts = [item.prompt for item in load_prompt_set(args.prompts)]
    prompts.append(" ".join(prompts))  # one long prompt as the worst case
    for name, run in (
        ("arbiter.assess", lambda p: arbiter.assess(p, lexicon, config)),
        ("local_clean", lambda p: local_clean(p, lexicon)),
    ):
        times = timed(prompts, args.rounds, run)
        print(
            f"{name:<15} mean {sum(times) / len(times):.3f} ms, p95 {percentile(times, 95):.3f} ms,"
            f" max {max(times):.3f} ms (longest prompt {len(prompts[-1])} chars)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
