"""Time to first token through the gateway with refinement off (relay only) vs calling the target directly.

    python -m benchmarks.relay_ttft [--requests 300]

One run: a fake upstream that streams instantly (benchmarks/fakes, its own process), the gateway (`mpr serve`, its own
process) with that upstream as target `fast`, then N streamed requests to each, interleaved (the order alternates),
from one client process with a kept-alive connection per side. Prints median and p99 of both and the difference;
writes benchmarks/results/relay_ttft.json (and relay_ttft.png when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import REPO, Service, fake_worker, gateway_cluster, progress, start_gateway
from benchmarks.harness import write_json as save_json
from benchmarks.scoring import percentile

TARGET = "fast"
PROMPT = "Say hello to the whole team in a few words."


def first_token_ms(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> float:
    """Milliseconds from sending the request to the first chunk that carries content; reads the rest."""
    began = time.perf_counter()
    seen: float | None = None
    with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if seen is None and line.startswith("data: {"):
                choices = json.loads(line[len("data: ") :]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    seen = time.perf_counter()
    if seen is None:
        raise RuntimeError(f"{url}: the stream carried no content")
    return (seen - began) * 1000.0


def measure(direct_url: str, gateway_url: str, requests: int, warmup: int) -> dict[str, list[float]]:
    """N requests per side, interleaved and alternating which side goes first; warm-up requests are dropped."""
    sides = {
        "direct": (direct_url, {"model": "base"}, {}),
        "gateway": (gateway_url, {"model": TARGET}, {"x-mpr-stages": "none"}),
    }
    samples: dict[str, list[float]] = {name: [] for name in sides}
    clients = {name: httpx.Client(timeout=30.0) for name in sides}
    try:
        for i in range(warmup + requests):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for name in order:
                url, model, headers = sides[name]
                body = {**model, "messages": [{"role": "user", "content": PROMPT}], "stream": True}
                took = first_token_ms(clients[name], url + "/v1/chat/completions", body, headers)
                if i >= warmup:
                    samples[name].append(took)
    finally:
        for client in clients.values():
            client.close()
    return samples


def summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
    stats = {
        name: {
            "median_ms": statistics.median(values),
            "p99_ms": percentile(sorted(values), 99),
            "mean_ms": statistics.fmean(values),
        }
        for name, values in samples.items()
    }
    added = {key: stats["gateway"][key] - stats["direct"][key] for key in ("median_ms", "p99_ms", "mean_ms")}
    return {"direct": stats["direct"], "gateway": stats["gateway"], "added": added}


def plot(samples: dict[str, list[float]], path: Path) -> Path | None:
    """Both TTFT distributions as sorted curves; None when matplotlib is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(7, 4))
    for name, values in samples.items():
        ordered = sorted(values)
        axis.plot([100.0 * (i + 1) / len(ordered) for i in range(len(ordered))], ordered, label=name)
    axis.set(xlabel="percentile", ylabel="time to first token (ms)", title="TTFT: direct vs gateway (relay only)")
    axis.legend()
    axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(requests: int, warmup: int, run_dir: Path) -> tuple[dict[str, list[float]], dict[str, Any]]:
    services: list[Service] = []
    try:
        upstream = fake_worker(run_dir, "upstream", 0.0, None)
        services.append(upstream)
        upstream.wait_ready("/health")
        target = {TARGET: {"kind": "openai", "base_url": upstream.url + "/v1", "model": "base"}}
        gateway = start_gateway(run_dir, gateway_cluster(upstream.url, upstream.url, target, "warning"))
        services.append(gateway)
        gateway.wait_ready("/ready")
        progress(f"measuring {requests} requests per side (+{warmup} warm-up), interleaved")
        samples = measure(upstream.url, gateway.url, requests, warmup)
    finally:
        for service in services:
            service.stop()
    return samples, summarise(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per side")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per side first")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mpr-relay-ttft-") as tmp:
        samples, result = run(args.requests, args.warmup, Path(tmp))
    for name in ("direct", "gateway"):
        s = result[name]
        print(f"{name:8s} TTFT median {s['median_ms']:7.3f} ms   p99 {s['p99_ms']:7.3f} ms")
    a = result["added"]
    print(f"added    TTFT median {a['median_ms']:7.3f} ms   p99 {a['p99_ms']:7.3f} ms")
    args.out.mkdir(parents=True, exist_ok=True)
    data = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "requests": args.requests, **result, "samples_ms": samples}
    save_json(args.out / "relay_ttft.json", data)
    png = plot(samples, args.out / "relay_ttft.png")
    progress(f"wrote {args.out / 'relay_ttft.json'}" + (f" and {png}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
