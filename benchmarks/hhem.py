"""HHEM benchmark: hallucination rate of a target model's answers with the original vs the refined prompt."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from benchmarks.judges import HhemJudge, Judge, OverlapJudge

DATA = Path(__file__).resolve().parent / "data" / "hhem_prompts.jsonl"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ARMS = ("original", "refined")
ANSWER_TEMPLATE = "Answer the question using only the passage.\n\nPassage:\n{source}\n\nQuestion: {prompt}"


@dataclass(frozen=True)
class SourcedPrompt:
    id: str
    source: str
    prompt: str


@dataclass(frozen=True)
class Interval:
    """A rate with its bootstrap confidence interval."""

    rate: float
    low: float
    high: float


@dataclass(frozen=True)
class ArmsReport:
    n: int
    threshold: float
    arms: dict[str, Interval]
    difference: Interval  # refined minus original, paired
    scores: dict[str, list[float]]


def load_items(path: Path) -> list[SourcedPrompt]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [SourcedPrompt(str(r["id"]), str(r["source"]), str(r["prompt"])) for r in rows]


def bootstrap(
    values: Sequence[float], statistic: Callable[[Sequence[float]], float], resamples: int, seed: int
) -> Interval:
    """Percentile bootstrap 95% interval of `statistic` over `values` (resampled with replacement)."""
    if not values:
        return Interval(0.0, 0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(statistic([values[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    low = stats[round(0.025 * (resamples - 1))]
    high = stats[round(0.975 * (resamples - 1))]
    return Interval(statistic(values), low, high)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def score_arms(
    items: Sequence[SourcedPrompt],
    answers: dict[str, list[str]],
    judge: Judge,
    threshold: float = 0.5,
    resamples: int = 2000,
    seed: int = 0,
) -> ArmsReport:
    """Judge every answer against its source; an answer scoring below `threshold` is a hallucination."""
    scores = {arm: judge.score([(i.source, a) for i, a in zip(items, answers[arm], strict=True)]) for arm in ARMS}
    flags = {arm: [1.0 if s < threshold else 0.0 for s in scores[arm]] for arm in ARMS}
    arms = {arm: bootstrap(flags[arm], mean, resamples, seed) for arm in ARMS}
    paired = [r - o for o, r in zip(flags["original"], flags["refined"], strict=True)]
    return ArmsReport(len(items), threshold, arms, bootstrap(paired, mean, resamples, seed), scores)


def refine(client: httpx.Client, gateway: str, prompt: str) -> str:
    response = client.post(gateway.rstrip("/") + "/refine", json={"prompt": prompt})
    response.raise_for_status()
    return str(response.json()["refined_prompt"])


def answer(client: httpx.Client, target: str, model: str, prompt: str, max_tokens: int) -> str:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0.0,
        "max_tokens": max_tokens,
    }
    response = client.post(target.rstrip("/") + "/chat/completions", json=body)
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"] or "")


def generate(args: argparse.Namespace, items: Sequence[SourcedPrompt]) -> tuple[dict[str, list[str]], list[str]]:
    """Refine each prompt through the gateway, then answer both versions with the target model."""
    answers: dict[str, list[str]] = {arm: [] for arm in ARMS}
    refined_prompts: list[str] = []
    with httpx.Client(timeout=args.timeout) as client:
        for done, item in enumerate(items, start=1):
            refined = refine(client, args.gateway, item.prompt)
            refined_prompts.append(refined)
            for arm, prompt in (("original", item.prompt), ("refined", refined)):
                text = ANSWER_TEMPLATE.format(source=item.source, prompt=prompt)
                answers[arm].append(answer(client, args.target, args.target_model, text, args.max_tokens))
            print(f"\r[{done:>3}/{len(items)}] {item.id}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return answers, refined_prompts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.hhem", description=__doc__)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000", help="gateway that refines the prompts")
    parser.add_argument("--target", default="http://127.0.0.1:8100/v1", help="OpenAI-compatible base URL")
    parser.add_argument("--target-model", required=True, help="model name the target serves")
    parser.add_argument("--hhem-model", type=Path, help="local HHEM-2.1-Open directory (the weights are yours)")
    parser.add_argument("--hhem-foundation", type=Path, help="local flan-t5-base directory HHEM builds on")
    parser.add_argument("--judge", choices=["hhem", "overlap"], default="hhem", help="overlap: a dry run")
    parser.add_argument("--prompts", type=Path, default=DATA)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    return parser


def make_judge(args: argparse.Namespace) -> Judge:
    if args.judge == "overlap":
        return OverlapJudge()
    if args.hhem_model is None:
        raise SystemExit("--hhem-model DIR is required for the HHEM judge (or --judge overlap for a dry run)")
    return HhemJudge(args.hhem_model, args.hhem_foundation)


def report_table(report: ArmsReport, judge: str) -> str:
    lines = [f"judge {judge}, {report.n} prompts, hallucination = score < {report.threshold}"]
    for arm, interval in report.arms.items():
        lines.append(f"{arm:<10} {interval.rate:6.1%}  95% CI [{interval.low:.1%}, {interval.high:.1%}]")
    d = report.difference
    lines.append(f"{'refined-original':<10} {d.rate:+6.1%}  95% CI [{d.low:+.1%}, {d.high:+.1%}]")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    judge = make_judge(args)
    items = load_items(args.prompts)
    try:
        answers, refined = generate(args, items)
    except httpx.HTTPError as exc:
        print(f"cannot reach the gateway or the target ({exc}); is the stack up (`mpr up`)?", file=sys.stderr)
        return 2
    report = score_arms(items, answers, judge, args.threshold)
    print(report_table(report, judge.name))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"hhem-{time.strftime('%Y%m%d-%H%M%S')}.json"
    payload = {"judge": judge.name, "report": asdict(report), "answers": answers, "refined_prompts": refined}
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    from benchmarks.plots import plot_arms

    rates = {arm: (i.rate, i.low, i.high) for arm, i in report.arms.items()}
    png = plot_arms(rates, path.with_suffix(".png"), f"HHEM ({judge.name})")
    print(f"wrote {png}" if png else "matplotlib is not installed: no plot")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
