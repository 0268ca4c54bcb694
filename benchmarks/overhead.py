"""Relay overhead: direct calls vs our gateway (relay mode) vs LiteLLM's proxy, one upstream, one load generator.

python -m benchmarks.overhead            # installs LiteLLM's proxy into {MPR_HOME}/bench/litellm-venv once
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import (
    PERCENTILES,
    REPO,
    Load,
    Service,
    fake_worker,
    free_port,
    gateway_cluster,
    progress,
    run_load,
    start_gateway,
    summary,
    table,
    write_json,
)
from config import MprEnvironment

TARGET = "fast"
BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}
SYSTEMS = ("direct", "gateway", "litellm")


def litellm_venv(spec: str) -> Path:
    """`{MPR_HOME}/bench/litellm-venv` with LiteLLM's proxy installed (created on first use)."""
    venv = MprEnvironment().home / "bench" / "litellm-venv"
    litellm = venv / "bin" / "litellm"
    if litellm.exists():
        return litellm
    progress(f"installing {spec} into {venv} (once; a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--progress-bar", "on", spec], check=True)
    return litellm


def start_litellm(run_dir: Path, litellm: Path, upstream: str) -> Service:
    """LiteLLM's proxy on loopback, one worker, routing model `fast` to the same upstream; no network look-ups."""
    config = {
        "model_list": [
            {
                "model_name": TARGET,
                "litellm_params": {"model": "openai/base", "api_base": upstream + "/v1", "api_key": "unused"},
            }
        ],
        "litellm_settings": {"telemetry": False},
        # No auth on either side (the gateway runs without keys here too): LiteLLM must be told so explicitly.
        "general_settings": {"dangerously_permit_weak_or_unset_master_key": True},
    }
    path = run_dir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "NO_DOCS": "True"}
    argv = [str(litellm), "--config", str(path), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    return Service("litellm", argv, f"http://127.0.0.1:{port}", run_dir / "litellm.log", env).start()


def loads(urls: dict[str, str], level: int, duration_s: float) -> dict[str, Load]:
    """The same chat request for each running system (the gateway's with refinement off)."""
    path = "/v1/chat/completions"
    headers = {"gateway": ("x-mpr-stages: none",)}
    model = {"direct": "base"}
    return {
        name: Load(url + path, {**BODY, "model": model.get(name, TARGET)}, level, duration_s, headers.get(name, ()))
        for name, url in urls.items()
    }


def measure(urls: dict[str, str], levels: list[int], duration_s: float, run_dir: Path) -> dict[str, dict[int, Any]]:
    """Every system at every concurrency level, interleaved per level so drift hits all of them alike."""
    results: dict[str, dict[int, Any]] = {name: {} for name in urls}
    for level in levels:
        for name, load in loads(urls, level, duration_s).items():
            progress(f"{name:8s} concurrency {level:3d}: {duration_s:g} s of load ...")
            stats = summary(run_load(load, run_dir))
            results[name][level] = stats
            progress(f"{name:8s} concurrency {level:3d}: p50 {stats['p50_ms']:.2f} ms, {stats['rps']:.0f} req/s")
    return results


def added(results: dict[str, dict[int, Any]], system: str, level: int) -> dict[str, float]:
    """Latency the proxy adds over direct calls, per percentile, at one concurrency level."""
    ours, base = results[system][level], results["direct"][level]
    return {f"p{q}_ms": ours[f"p{q}_ms"] - base[f"p{q}_ms"] for q in PERCENTILES}


def report(results: dict[str, dict[int, Any]], levels: list[int]) -> tuple[str, dict[str, Any]]:
    proxies = [s for s in ("gateway", "litellm") if s in results]
    rows, data = [], {}
    for level in levels:
        entry: dict[str, Any] = {"direct": results["direct"][level]}
        for system in proxies:
            entry[system] = {**results[system][level], "added": added(results, system, level)}
            a = entry[system]["added"]
            row = [system, str(level)] + [f"{a[f'p{q}_ms']:.2f}" for q in PERCENTILES]
            rows.append([*row, f"{results[system][level]['rps']:.0f}", f"{results['direct'][level]['rps']:.0f}"])
        if len(proxies) == 2:
            ratio = {
                k: entry["gateway"]["added"][k] / max(entry["litellm"]["added"][k], 1e-9) for k in ("p50_ms", "p99_ms")
            }
            entry["ratio_gateway_to_litellm"] = ratio
            rows.append(["ratio b/c", str(level), f"{ratio['p50_ms']:.3f}", "", f"{ratio['p99_ms']:.3f}", "", ""])
        data[str(level)] = entry
    headers = ["system", "conc.", "+p50 ms", "+p90 ms", "+p99 ms", "req/s", "direct req/s"]
    maxima = {s: max(results[s][lv]["rps"] for lv in levels) for s in results}
    text = table(headers, rows) + "\nmax throughput (req/s): " + ", ".join(f"{s} {v:.0f}" for s, v in maxima.items())
    return text, {"levels": data, "max_rps": maxima}


def plot(results: dict[str, dict[int, Any]], levels: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system in ("gateway", "litellm"):
        if system in results:
            for q, style in ((50, "-o"), (99, "--s")):
                values = [max(added(results, system, lv)[f"p{q}_ms"], 0.01) for lv in levels]
                left.plot(levels, values, style, label=f"{system} p{q}")
    left.set(xscale="log", yscale="log", xlabel="concurrency", ylabel="added latency (ms)", title="Added over direct")
    for system, points in results.items():
        right.plot(levels, [points[lv]["rps"] for lv in levels], "-o", label=system)
    right.set(xscale="log", xlabel="concurrency", ylabel="requests/s", title="Throughput")
    for axis in (left, right):
        axis.set_xticks(levels, [str(lv) for lv in levels])
        axis.legend()
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def start_all(
    run_dir: Path, args: argparse.Namespace, services: list[Service]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Start the upstream, the gateway and LiteLLM; each joins `services` at once, so the caller stops them all."""
    upstream = fake_worker(run_dir, "upstream", 0.0, "Hello there.")
    services.append(upstream)
    upstream.wait_ready("/health")
    target = {
        TARGET: {"kind": "openai", "base_url": upstream.url + "/v1", "model": "base", "max_tokens_param": "max_tokens"}
    }
    gateway = start_gateway(run_dir, gateway_cluster(upstream.url, upstream.url, target, args.log_level))
    services.append(gateway)
    facts: dict[str, Any] = {"gateway_startup_s": gateway.wait_ready("/ready")}
    facts["gateway_idle_rss_mb"] = gateway.rss_mb()
    urls = {"direct": upstream.url, "gateway": gateway.url}
    if not args.skip_litellm:
        litellm = start_litellm(run_dir, litellm_venv(args.litellm_spec), upstream.url)
        services.append(litellm)
        facts["litellm_startup_s"] = litellm.wait_ready("/health/liveliness", timeout_s=180)
        facts["litellm_idle_rss_mb"] = litellm.rss_mb()
        urls["litellm"] = litellm.url
    return urls, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds of load per system and level")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--log-level", default="info", help="the gateway's log level (info: one JSON line per request)")
    parser.add_argument("--litellm-spec", default="litellm[proxy]", help="what pip installs into the LiteLLM venv")
    parser.add_argument("--skip-litellm", action="store_true")
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="mpr-overhead-") as tmp:
        run_dir = Path(tmp)
        services: list[Service] = []
        try:
            urls, facts = start_all(run_dir, args, services)
            progress(f"services ready: {facts}")
            results = measure(urls, levels, args.duration, run_dir)
        finally:
            for service in services:
                service.stop()
    text, data = report(results, levels)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(
        args.out / "overhead.json", {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), **facts, **data, "raw": results}
    )
    plot(results, levels, args.out / "overhead.png")
    progress(f"wrote {args.out / 'overhead.json'} and {args.out / 'overhead.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
