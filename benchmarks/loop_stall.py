"""Short requests while long prompts are being judged: the merger's CPU inline on the event loop vs in a thread.

    python -m benchmarks.loop_stall [--duration 6 --long-chars 30000]

Two runs of the same gateway on instant fake workers, one with `gateway.offload_above_chars` at its default (long
prompts judged in a worker thread) and one with it out of reach (everything on the loop). In each, two clients
send long noisy prompts while four send short ones; the table gives the short requests' latency and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    REPO,
    Load,
    Service,
    fake_worker,
    gateway_cluster,
    progress,
    run_load,
    start_gateway,
    write_json,
)
from benchmarks.harness import table as render_table
from benchmarks.scoring import percentile

SHORT = "what is the captial of frane"
LONG_SENTENCE = "Pls explian teh diffrence between wether and climate, and how it afects farming in europe. "
MODES = {"offload (default)": 2_000, "inline (loop)": 10**9}


def _cluster(cleaner: str, describer: str, offload_above: int) -> dict[str, Any]:
    cluster = gateway_cluster(cleaner, describer, {}, "warning")
    cluster["gateway"].update({"offload_above_chars": offload_above, "max_prompt_chars": 40_000})
    return cluster


def _loads(url: str, long_prompt: str, duration_s: float, run_dir: Path) -> dict[str, dict[str, Any]]:
    """The long and the short load at once, each its own load-generator process."""
    loads = {
        "long": Load(url + "/refine", {"prompt": long_prompt}, 2, duration_s, max_requests=2_000),
        "short": Load(url + "/refine", {"prompt": SHORT}, 4, duration_s),
    }
    results: dict[str, dict[str, Any]] = {}
    folders = {name: run_dir / name for name in loads}

    def run(name: str) -> None:
        folders[name].mkdir(exist_ok=True)
        results[name] = run_load(loads[name], folders[name])

    threads = [threading.Thread(target=run, args=(name,)) for name in loads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _measure(mode: str, offload_above: int, long_prompt: str, duration_s: float, run_dir: Path) -> dict[str, float]:
    services: list[Service] = []
    try:
        for role in ("cleaner", "describer"):
            services.append(fake_worker(run_dir, f"{role}-{offload_above}", 0.0, None))
            services[-1].wait_ready("/health")
        cluster = _cluster(services[0].url, services[1].url, offload_above)
        gateway = start_gateway(run_dir, cluster)
        services.append(gateway)
        gateway.wait_ready("/ready")
        progress(f"{mode}: {duration_s:g} s of long + short load ...")
        results = _loads(gateway.url, long_prompt, duration_s, run_dir)
    finally:
        for service in services:
            service.stop()
    short, long = results["short"]["latencies_ms"], results["long"]["latencies_ms"]
    return {
        "short_p50_ms": percentile(short, 50),
        "short_p99_ms": percentile(short, 99),
        "short_max_ms": max(short, default=0.0),
        "short_rps": results["short"]["rps"],
        "long_p50_ms": percentile(long, 50),
        "long_count": float(len(long)),
        "errors": float(results["short"]["errors"] + results["long"]["errors"]),
    }


def _plot(results: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(7, 4))
    names = list(results)
    keys = ("short_p50_ms", "short_p99_ms", "short_max_ms")
    width = 0.25
    for offset, key in enumerate(keys):
        axis.bar([i + offset * width for i in range(len(names))], [results[n][key] for n in names], width, label=key)
    axis.set_xticks([i + width for i in range(len(names))], names)
    axis.set(ylabel="ms", title="Short /refine latency while long prompts are judged")
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per mode")
    parser.add_argument("--long-chars", type=int, default=30_000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    long_prompt = (LONG_SENTENCE * (args.long_chars // len(LONG_SENTENCE) + 1))[: args.long_chars]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mpr-stall-") as tmp:
        for mode, offload_above in MODES.items():
            results[mode] = _measure(mode, offload_above, long_prompt, args.duration, Path(tmp))
    headers = ["mode", "short p50 ms", "short p99 ms", "short max ms", "short req/s", "long p50 ms", "errors"]
    columns = ("short_p50_ms", "short_p99_ms", "short_max_ms", "short_rps", "long_p50_ms")
    rows = [[m, *(f"{r[k]:.1f}" for k in columns), f"{r['errors']:.0f}"] for m, r in results.items()]
    print(render_table(headers, rows))
    inline, offload = results["inline (loop)"], results["offload (default)"]
    ratio = {k: inline[k] / offload[k] for k in ("short_p50_ms", "short_p99_ms") if offload[k]}
    print("inline / offload: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratio.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_json(args.out / "loop_stall.json", {"when": when, "long_chars": args.long_chars, "results": results})
    _plot(results, args.out / "loop_stall.png")
    progress(f"wrote {args.out / 'loop_stall.json'} and {args.out / 'loop_stall.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
