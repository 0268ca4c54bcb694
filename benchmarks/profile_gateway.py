"""Profile the gateway's hot path under load with py-spy: the top functions by own and by inclusive samples.

python -m benchmarks.profile_gateway --mode relay|refine|skip [--seconds 8]   (needs `pip install py-spy`)
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from benchmarks.harness import Load, fake_worker, gateway_cluster, progress, run_load, start_gateway, summary

BODIES: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "relay": (
        "/v1/chat/completions",
        {"model": "fast", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16},
        ("x-mpr-stages: none",),
    ),
    "refine": ("/refine", {"prompt": "what is the captial of frane"}, ()),
    "skip": ("/refine", {"prompt": "What is 17 * 23?"}, ()),
}


def top(collapsed: Path, limit: int) -> str:
    """Own and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "own:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(limit)]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(limit * 2)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="py-spy profile of the gateway under loopback load.")
    parser.add_argument("--mode", choices=sorted(BODIES), default="relay")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", type=Path, help="copy py-spy's collapsed stacks here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="mpr-profile-") as tmp:
        run_dir = Path(tmp)
        upstream = fake_worker(run_dir, "upstream", 0.0, "Hello there.")
        services = [upstream]
        try:
            upstream.wait_ready("/health")
            target = {"fast": {"kind": "openai", "base_url": upstream.url + "/v1", "model": "base"}}
            gateway = start_gateway(run_dir, gateway_cluster(upstream.url, upstream.url, target, "info"))
            services.append(gateway)
            gateway.wait_ready("/ready")
            assert gateway.process is not None
            out = run_dir / "profile.txt"
            argv_spy = [py_spy, "record", "-p", str(gateway.process.pid), "-d", str(int(args.seconds) + 1)]
            # --gil: only the thread holding the GIL, i.e. the CPU the gateway spends; an idle thread-pool worker
            # (blocked in a queue wait py-spy cannot tell from work) otherwise shows as a quarter of the samples.
            argv_spy += ["-r", "500", "--gil", "-f", "raw", "-o", str(out)]
            spy = threading.Thread(target=subprocess.run, args=(argv_spy,), kwargs={"capture_output": True})
            spy.start()
            path, body, headers = BODIES[args.mode]
            progress(f"profiling {args.mode} for {args.seconds:g} s")
            stats = summary(run_load(Load(gateway.url + path, body, args.concurrency, args.seconds, headers), run_dir))
            spy.join()
            print(f"{args.mode}: p50 {stats['p50_ms']:.2f} ms, {stats['rps']:.0f} req/s")
            print(top(out, args.top))
            if args.keep is not None:
                shutil.copy(out, args.keep)
        finally:
            for service in services:
                service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
