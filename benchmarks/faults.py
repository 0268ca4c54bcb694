"""Fault benchmark: fixed-rate load on a loopback gateway while a worker is killed, hung, then restarted."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from config import Cluster
from tests.fakes import Behaviour, FakeVllmServer
from tests.serving import ServedGateway

PROMPTS = (
    "what is the captial of frane",
    "who was ada lovelance",
    "explain how photosynthesis works in plantts",
    "when did the roman empre fall",
)
PHASES = ("healthy", "killed", "hung", "restarted")
STAGE_TIMEOUT_S = 2.0
MARGIN_S = 0.5


@dataclass
class PhaseStats:
    """What the client saw during one phase."""

    sent: int = 0
    errors: int = 0
    fallbacks: int = 0
    by_backup: int = 0
    latencies: list[float] = field(default_factory=list)
    cleaner_workers: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q * 100) - 1]


def build_cluster(cleaner: str, describer: str, backup: str) -> Cluster:
    """Primary cleaner and describer workers plus a backup serving both adapters; short timeouts and probes."""

    def worker(name: str, url: str, adapters: list[str], role: str = "primary") -> dict[str, Any]:
        return {"name": name, "node": name, "url": url, "role": role, "base": "base", "adapters": adapters}

    def stage(adapter: str) -> dict[str, Any]:
        return {"adapters": {"small": adapter}, "timeout_s": STAGE_TIMEOUT_S, "system_prompt": "Work on the prompt."}

    adapter = {"tier": "small", "base": "base", "rank": 8}
    return Cluster.model_validate(
        {
            "gateway": {"probe_interval_s": 0.5, "probe_timeout_s": 0.3, "log_level": "warning"},
            "models": {"base": {"path": "/models/base"}},
            "adapters": {
                "clean-a": {**adapter, "role": "cleaner", "path": "/adapters/clean-a"},
                "desc-a": {**adapter, "role": "describer", "path": "/adapters/desc-a"},
            },
            "workers": [
                worker("cleaner-node", cleaner, ["clean-a"]),
                worker("describer-node", describer, ["desc-a"]),
                worker("backup-node", backup, ["clean-a", "desc-a"], "backup"),
            ],
            "stages": {"cleaner": stage("clean-a"), "describer": stage("desc-a")},
            "retry": {"attempts": 2, "backoff_s": 0.01, "attempt_timeout_s": 0.5},
            "breaker": {"failure_threshold": 3, "cooldown_s": 2.0},
        }
    )


def _worker(adapters: dict[str, str], port: int = 0, behaviour: Behaviour | None = None) -> FakeVllmServer:
    fake = FakeVllmServer("base", base_path="/models/base", adapters=adapters, port=port)
    fake.set_default(behaviour or Behaviour(delay=0.02))
    return fake.start()


async def _one(client: httpx.AsyncClient, prompt: str, stats: PhaseStats) -> None:
    started = time.perf_counter()
    stats.sent += 1
    try:
        response = await client.post("/refine", json={"prompt": prompt})
    except httpx.HTTPError:
        stats.errors += 1
        return
    stats.latencies.append(time.perf_counter() - started)
    if response.status_code != 200:
        stats.errors += 1
        return
    stages = response.json()["stages"]
    stats.fallbacks += any(s["status"] == "fallback" for s in stages.values())
    stats.by_backup += any(s.get("worker") == "backup-node" for s in stages.values())
    stats.cleaner_workers.append(stages["cleaner"].get("worker") or "-")


async def run_phase(client: httpx.AsyncClient, rate: float, seconds: float, stats: PhaseStats) -> None:
    """Open-loop load: one request every 1/rate seconds whatever the answers; waits for the last ones."""
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(_one(client, PROMPTS[i % len(PROMPTS)], stats)))
    await asyncio.gather(*tasks)


def apply_fault(phase: str, cleaner: FakeVllmServer) -> FakeVllmServer:
    """Kill, hang or restart the primary cleaner worker (same port throughout)."""
    port = cleaner.port or 0
    adapters = {"clean-a": "/adapters/clean-a"}
    if phase == "killed":
        cleaner.stop()
    elif phase == "hung":  # back on its port: /health answers 200, generation never does
        cleaner = _worker(adapters, port, Behaviour(hang=True))
    elif phase == "restarted":
        cleaner.stop()
        cleaner = _worker(adapters, port)
    return cleaner


async def run(rate: float, seconds: float, timeout_s: float) -> dict[str, PhaseStats]:
    cleaner = _worker({"clean-a": "/adapters/clean-a"})
    describer = _worker({"desc-a": "/adapters/desc-a"})
    backup = _worker({"clean-a": "/adapters/clean-a", "desc-a": "/adapters/desc-a"})
    gateway = ServedGateway(build_cluster(cleaner.base_url, describer.base_url, backup.base_url)).start()
    results = {phase: PhaseStats() for phase in PHASES}
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=timeout_s) as client:
            for phase in PHASES:
                cleaner = apply_fault(phase, cleaner)
                await run_phase(client, rate, seconds / len(PHASES), results[phase])
    finally:
        gateway.stop()
        for fake in (cleaner, describer, backup):
            fake.stop()
    return results


def report(results: dict[str, PhaseStats]) -> bool:
    """Print the table and the targets; True when every target is met."""
    print(
        f"{'phase':<10} {'sent':>5} {'errors':>6} {'fallbk':>6} {'backup':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for phase, s in results.items():
        top = max(s.latencies, default=0.0)
        print(
            f"{phase:<10} {s.sent:>5} {s.errors:>6} {s.fallbacks:>6} {s.by_backup:>6} "
            f"{s.quantile(0.5) * 1000:>8.1f} {s.quantile(0.99) * 1000:>8.1f} {top * 1000:>8.1f}"
        )
    errors = sum(s.errors for s in results.values())
    worst_p99 = max(s.quantile(0.99) for s in results.values())
    tail = results["restarted"].cleaner_workers[-max(1, len(results["restarted"].cleaner_workers) // 4) :]
    recovered = bool(tail) and all(w == "cleaner-node" for w in tail)
    checks = {
        "zero client errors": errors == 0,
        f"p99 <= stage timeout {STAGE_TIMEOUT_S:g}s + {MARGIN_S:g}s": worst_p99 <= STAGE_TIMEOUT_S + MARGIN_S,
        "recovered: last quarter of 'restarted' served by the primary cleaner": recovered,
    }
    for name, ok in checks.items():
        print(f"target {'met' if ok else 'MISSED'}: {name}")
    return all(checks.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="total duration, split over 4 phases")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (fixed, open loop)")
    parser.add_argument("--client-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    print(f"faults: {args.rate:g} req/s for {args.seconds:g}s over phases {', '.join(PHASES)} (loopback fakes)")
    results = asyncio.run(run(args.rate, args.seconds, args.client_timeout))
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
