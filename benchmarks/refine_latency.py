"""Refine latency: what the parallel pipeline costs on top of its slowest stage, skip-gated prompts, throughput.

python -m benchmarks.refine_latency                      # fake workers: cleaner 50 ms, describer 80 ms
python -m benchmarks.refine_latency --gateway URL        # any running deployment (no fakes started)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    PERCENTILES,
    REPO,
    Load,
    Service,
    fake_worker,
    gateway_cluster,
    percentile,
    progress,
    run_load,
    start_gateway,
    table,
    write_json,
)

NOISY = "what is the captial of frane"  # the arbiter runs both stages
SKIPPED = "What is 17 * 23?"  # arithmetic: the arbiter skips both stages, no worker call
BACKGROUND = "France is a country in Western Europe. Its capital city is Paris."


def start_stack(
    run_dir: Path, cleaner_s: float, describer_s: float, services: list[Service]
) -> tuple[Service, dict[str, Any]]:
    """Two fake workers and the gateway; each joins `services` at once, so the caller stops them all."""
    services.append(fake_worker(run_dir, "cleaner", cleaner_s, None))
    services.append(fake_worker(run_dir, "describer", describer_s, BACKGROUND))
    cleaner, describer = services[-2:]
    for fake in (cleaner, describer):
        fake.wait_ready("/health")
    gateway = start_gateway(run_dir, gateway_cluster(cleaner.url, describer.url, {}, "info"))
    services.append(gateway)
    facts = {"startup_to_ready_s": gateway.wait_ready("/ready"), "idle_rss_mb": gateway.rss_mb()}
    return gateway, facts


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


def report(results: dict[str, dict[int, dict[str, Any]]], slowest_s: float | None) -> str:
    rows = []
    for kind, by_level in results.items():
        for level, r in by_level.items():
            over = f"{r['p50_ms'] - slowest_s * 1000:.2f}" if slowest_s is not None and kind == "refine" else "-"
            stage, on_top = f"{r['slowest_stage_p50_ms']:.2f}", f"{r['on_top_p50_ms']:.2f}"
            percentiles = [f"{r[f'p{q}_ms']:.2f}" for q in PERCENTILES]
            rows.append([kind, str(level), *percentiles, over, stage, on_top, f"{r['rps']:.0f}"])
    headers = ["prompt", "conc.", "p50 ms", "p90 ms", "p99 ms", "p50-slowest", "stage p50", "on top p50", "req/s"]
    return table(headers, rows)


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


def run_all(url: str, levels: list[int], duration_s: float, run_dir: Path) -> dict[str, dict[int, dict[str, Any]]]:
    results: dict[str, dict[int, dict[str, Any]]] = {"refine": {}, "skip-gated": {}}
    for level in levels:
        for kind, prompt in (("refine", NOISY), ("skip-gated", SKIPPED)):
            progress(f"{kind:10s} concurrency {level:3d}: {duration_s:g} s of load ...")
            r = measure(url, prompt, level, duration_s, run_dir)
            results[kind][level] = r
            progress(f"{kind:10s} concurrency {level:3d}: p50 {r['p50_ms']:.2f} ms, {r['rps']:.0f} req/s")
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
            url = args.gateway.rstrip("/") if args.gateway else ""
            if not url:
                gateway, facts = start_stack(run_dir, args.cleaner_delay, args.describer_delay, services)
                url = gateway.url
                progress(f"gateway ready: {facts}")
            results = run_all(url, levels, args.duration, run_dir)
        finally:
            for service in services:
                service.stop()
    slowest = None if args.gateway else max(args.cleaner_delay, args.describer_delay)
    print(report(results, slowest))
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
