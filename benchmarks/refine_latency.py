"""Refine latency: what the parallel pipeline costs on top of its slowest stage, skip-gated prompts, throughput.

python -m benchmarks.refine_latency                      # fake workers: cleaner 50 ms, describer 80 ms
python -m benchmarks.refine_latency --gateway URL        # any running deployment (no fakes started)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    PERCENTILES,
    REPO,
    Load,
    Service,
    fake_worker,
    gateway_cluster,
    progress,
    run_load,
    start_gateway,
    table,
    write_json,
)
from benchmarks.scoring import percentile
from config.stage_messages import render_stage_messages

NOISY = "what is the captial of frane"  # the arbiter runs both stages
SKIPPED = "What is 17 * 23?"  # arithmetic: the arbiter skips both stages, no worker call
BACKGROUND = "France is a country in Western Europe. Its capital city is Paris."


@dataclass(frozen=True)
class Stack:
    """The gateway and, for the baseline, the slowest fake worker with the stage request it gets."""

    gateway: Service
    slowest: Service
    slowest_body: dict[str, Any]
    facts: dict[str, Any]


def start_stack(run_dir: Path, cleaner_s: float, describer_s: float, services: list[Service]) -> Stack:
    """Two fake workers and the gateway; each joins `services` at once, so the caller stops them all."""
    services.append(fake_worker(run_dir, "cleaner", cleaner_s, None))
    services.append(fake_worker(run_dir, "describer", describer_s, BACKGROUND))
    cleaner, describer = services[-2:]
    for fake in (cleaner, describer):
        fake.wait_ready("/health")
    gateway = start_gateway(run_dir, gateway_cluster(cleaner.url, describer.url, {}, "info"))
    services.append(gateway)
    facts = {"startup_to_ready_s": gateway.wait_ready("/ready"), "idle_rss_mb": gateway.rss_mb()}
    role, fake = ("describer", describer) if describer_s >= cleaner_s else ("cleaner", cleaner)
    prompt = (REPO / "config" / "prompts" / f"{role}.md").read_text(encoding="utf-8")
    adapter = "desc-a" if role == "describer" else "clean-a"
    body = {"model": adapter, "messages": render_stage_messages(prompt, NOISY), "temperature": 0.0, "max_tokens": 64}
    return Stack(gateway, fake, body, facts)


def direct(stack: Stack, level: int, duration_s: float, run_dir: Path) -> float:
    """p50 of the slowest stage's request sent straight to its fake worker: the floor for a refine."""
    load = Load(stack.slowest.url + "/v1/chat/completions", stack.slowest_body, level, duration_s)
    return percentile(run_load(load, run_dir)["latencies_ms"], 50)


def measure(url: str, prompt: str, level: int, duration_s: float, run_dir: Path) -> dict[str, Any]:
    """Client-side latency, plus per request the gateway's pipeline time and its slowest worker stage."""
    result = run_load(Load(url + "/refine", {"prompt": prompt}, level, duration_s, collect_stages=True), run_dir)
    latencies = result["latencies_ms"]
    pipeline = sorted(p for p, _ in result["stages_ms"])
    slowest = sorted(s for _, s in result["stages_ms"])
    on_top = sorted(max(p - s, 0.0) for p, s in result["stages_ms"])
    out: dict[str, Any] = {"rps": result["rps"], "count": result["count"], "errors": result["errors"]}
    for q in PERCENTILES:
        out[f"p{q}_ms"] = percentile(latencies, q)
        out[f"pipeline_p{q}_ms"] = percentile(pipeline, q)
        out[f"on_top_p{q}_ms"] = percentile(on_top, q)
    out["slowest_stage_p50_ms"] = percentile(slowest, 50)
    return out


def _difference(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a - b:.2f}"


def report(results: dict[str, dict[int, dict[str, Any]]]) -> str:
    """Per prompt and level; for refine, the p50 against the slowest stage three ways (see README of the table)."""
    rows = []
    for kind, by_level in results.items():
        for level, r in by_level.items():
            refine = kind == "refine"
            stage = r["slowest_stage_p50_ms"] if refine else None
            floor = r.get("direct_p50_ms") if refine else None
            percentiles = [f"{r[f'p{q}_ms']:.2f}" for q in PERCENTILES]
            columns = [_difference(r["p50_ms"], stage), _difference(r["p50_ms"], floor), f"{r['on_top_p50_ms']:.2f}"]
            stage_text = "-" if stage is None else f"{stage:.2f}"
            floor_text = "-" if floor is None else f"{floor:.2f}"
            rows.append([kind, str(level), *percentiles, stage_text, floor_text, *columns, f"{r['rps']:.0f}"])
    headers = ["prompt", "conc.", "p50 ms", "p90 ms", "p99 ms", "stage p50", "direct p50"]
    headers += ["+stage", "+direct", "in-gw", "req/s"]
    legend = (
        "stage p50: the slowest stage as the gateway timed it (its worker call through the openai client); "
        "direct p50: that stage's request sent straight to its fake worker;\n"
        "+stage = p50 - stage p50 (what the parallel pipeline costs on top); +direct = p50 - direct p50 (all the "
        "gateway adds, its worker client included); in-gw: pipeline time - slowest stage, inside the gateway."
    )
    return table(headers, rows) + "\n" + legend


def plot(results: dict[str, dict[int, dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, by_level in results.items():
        levels = list(by_level)
        left.plot(levels, [by_level[lv]["p50_ms"] for lv in levels], "-o", label=f"{kind} p50")
        left.plot(levels, [by_level[lv]["p99_ms"] for lv in levels], "--s", label=f"{kind} p99")
        right.plot(levels, [by_level[lv]["rps"] for lv in levels], "-o", label=kind)
    left.set(xscale="log", yscale="log", xlabel="concurrency", ylabel="latency (ms)", title="End-to-end /refine")
    right.set(xscale="log", xlabel="concurrency", ylabel="requests/s", title="Throughput")
    for axis in (left, right):
        axis.legend()
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_all(
    url: str, stack: Stack | None, levels: list[int], duration_s: float, run_dir: Path
) -> dict[str, dict[int, dict[str, Any]]]:
    results: dict[str, dict[int, dict[str, Any]]] = {"refine": {}, "skip-gated": {}}
    for level in levels:
        for kind, prompt in (("refine", NOISY), ("skip-gated", SKIPPED)):
            progress(f"{kind:10s} concurrency {level:3d}: {duration_s:g} s of load ...")
            r = measure(url, prompt, level, duration_s, run_dir)
            results[kind][level] = r
            progress(f"{kind:10s} concurrency {level:3d}: p50 {r['p50_ms']:.2f} ms, {r['rps']:.0f} req/s")
        if stack is not None:
            results["refine"][level]["direct_p50_ms"] = floor = direct(stack, level, duration_s, run_dir)
            progress(f"direct     concurrency {level:3d}: p50 {floor:.2f} ms (slowest stage, no gateway)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateway", help="measure this running gateway instead of starting fakes and one")
    parser.add_argument("--cleaner-delay", type=float, default=0.05, help="seconds (fake cleaner)")
    parser.add_argument("--describer-delay", type=float, default=0.08, help="seconds (fake describer)")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds of load per prompt and level")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.concurrency.split(",")]
    facts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mpr-refine-") as tmp:
        run_dir, services = Path(tmp), list[Service]()
        try:
            stack = None
            url = args.gateway.rstrip("/") if args.gateway else ""
            if not url:
                stack = start_stack(run_dir, args.cleaner_delay, args.describer_delay, services)
                url, facts = stack.gateway.url, stack.facts
                progress(f"gateway ready: {facts}")
            results = run_all(url, stack, levels, args.duration, run_dir)
        finally:
            for service in services:
                service.stop()
    slowest = None if args.gateway else max(args.cleaner_delay, args.describer_delay)
    print(report(results))
    if facts:
        print(f"gateway start-up to ready {facts['startup_to_ready_s']:.2f} s, idle RSS {facts['idle_rss_mb']:.0f} MiB")
    args.out.mkdir(parents=True, exist_ok=True)
    data = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "gateway": args.gateway, "slowest_stage_s": slowest}
    write_json(args.out / "refine_latency.json", {**data, **facts, "results": results})
    plot(results, args.out / "refine_latency.png")
    progress(f"wrote {args.out / 'refine_latency.json'} and {args.out / 'refine_latency.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
