"""Fault benchmark: fixed-rate load on a loopback gateway while a worker is killed, hung, then restarted, and
while one client sends 1 ms deadlines beside the others; breaker openings per phase from /metrics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.harness import REPO, write_json
from benchmarks.scoring import percentile
from benchmarks.serving import ServedGateway
from config import Cluster

PROMPTS = (
    "what is the captial of frane",
    "who was ada lovelance",
    "explain how photosynthesis works in plantts",
    "when did the roman empre fall",
)
PHASES = ("healthy", "killed", "hung", "restarted", "deadline")
STAGE_TIMEOUT_S = 2.0
MARGIN_S = 0.5
# The "deadline" phase: one client asks for a 1 ms deadline at this rate while the others send normal requests.
# Its stages are cancelled by its own deadline, which is not the worker's fault: no breaker may open, nobody else
# may fall back. The others send fewer requests than it does, as on a CPU worker that serves a few per second: a
# breaker opens after consecutive failures, and on the 20 ms fakes a success every 50 ms would reset the count.
ROGUE_RATE = 10.0
OTHERS_RATE = 2.0
ROGUE_HEADERS = {"x-mpr-deadline-ms": "1"}
ROGUE = "1ms-client"  # the deadline phase's 1 ms client, reported apart from the others
BREAKER_SAMPLE_S = 0.1  # well under the breaker's cool-down (2 s), so no opening goes unseen


@dataclass
class PhaseStats:
    """What the client saw during one phase."""

    sent: int = 0
    errors: int = 0
    fallbacks: int = 0
    by_backup: int = 0
    latencies: list[float] = field(default_factory=list)
    cleaner_workers: list[str] = field(default_factory=list)
    # Breaker openings per endpoint seen on /metrics during the phase (closed or half-open -> open).
    breaker_openings: dict[str, int] = field(default_factory=dict)

    @property
    def openings(self) -> int:
        return sum(self.breaker_openings.values())

    def quantile(self, q: float) -> float:
        return percentile(self.latencies, q * 100)


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


async def _one(client: httpx.AsyncClient, prompt: str, stats: PhaseStats, headers: Mapping[str, str]) -> None:
    started = time.perf_counter()
    stats.sent += 1
    try:
        response = await client.post("/refine", json={"prompt": prompt}, headers=dict(headers))
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


async def run_phase(
    client: httpx.AsyncClient, rate: float, seconds: float, stats: PhaseStats, headers: Mapping[str, str] | None = None
) -> None:
    """Open-loop load: one request every 1/rate seconds whatever the answers; waits for the last ones."""
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(_one(client, PROMPTS[i % len(PROMPTS)], stats, headers or {})))
    await asyncio.gather(*tasks)


def breaker_states(metrics_text: str) -> dict[str, str]:
    """Each endpoint's breaker state from a /metrics page (`mpr_endpoint_breaker_state`, 1 for the current one)."""
    states: dict[str, str] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "mpr_endpoint_breaker_state":
            for sample in family.samples:
                if sample.value == 1.0:
                    states[sample.labels["endpoint"]] = sample.labels["state"]
    return states


async def watch_breakers(client: httpx.AsyncClient, stop: asyncio.Event, stats: PhaseStats) -> None:
    """Sample /metrics until `stop` and count every move of an endpoint's breaker into `open`."""
    last: dict[str, str] = {}
    while not stop.is_set():
        try:
            states = breaker_states((await client.get("/metrics")).text)
        except httpx.HTTPError:
            states = last
        for endpoint, state in states.items():
            if state == "open" and last.get(endpoint) != "open":
                stats.breaker_openings[endpoint] = stats.breaker_openings.get(endpoint, 0) + 1
        last = states
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BREAKER_SAMPLE_S)


async def watched_phase(client: httpx.AsyncClient, phase: str, rate: float, seconds: float,
                        results: dict[str, PhaseStats]) -> None:  # fmt: skip
    """One phase's load with the breakers watched; the deadline phase adds the 1 ms client (its own row)."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_breakers(client, stop, results[phase]))
    loads = [run_phase(client, rate, seconds, results[phase])]
    if phase == "deadline":
        loads.append(run_phase(client, ROGUE_RATE, seconds, results[ROGUE], ROGUE_HEADERS))
    try:
        await asyncio.gather(*loads)
    finally:
        stop.set()
        await watcher


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


async def run(rate: float, seconds: float, timeout_s: float, others_rate: float) -> dict[str, PhaseStats]:
    cleaner = _worker({"clean-a": "/adapters/clean-a"})
    describer = _worker({"desc-a": "/adapters/desc-a"})
    backup = _worker({"clean-a": "/adapters/clean-a", "desc-a": "/adapters/desc-a"})
    gateway = ServedGateway(build_cluster(cleaner.base_url, describer.base_url, backup.base_url)).start()
    results = {phase: PhaseStats() for phase in (*PHASES, ROGUE)}
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=timeout_s) as client:
            for phase in PHASES:
                cleaner = apply_fault(phase, cleaner)
                phase_rate = others_rate if phase == "deadline" else rate
                await watched_phase(client, phase, phase_rate, seconds / len(PHASES), results)
    finally:
        gateway.stop()
        for fake in (cleaner, describer, backup):
            fake.stop()
    return results


def summary(stats: PhaseStats) -> dict[str, Any]:
    """One phase's row, for the table and the JSON file."""
    return {
        "sent": stats.sent, "errors": stats.errors, "fallbacks": stats.fallbacks, "by_backup": stats.by_backup,
        "breaker_openings": stats.openings, "openings_by_endpoint": dict(stats.breaker_openings),
        "p50_ms": stats.quantile(0.5) * 1000, "p99_ms": stats.quantile(0.99) * 1000,
        "max_ms": max(stats.latencies, default=0.0) * 1000,
    }  # fmt: skip


def targets(results: dict[str, PhaseStats]) -> dict[str, bool]:
    """The targets over the normal clients (the 1 ms client's own fallbacks are expected)."""
    normal = [results[phase] for phase in PHASES]
    worst_p99 = max(s.quantile(0.99) for s in normal)
    tail = results["restarted"].cleaner_workers[-max(1, len(results["restarted"].cleaner_workers) // 4) :]
    deadline = results["deadline"]
    return {
        "zero client errors": sum(s.errors for s in normal) == 0,
        f"p99 <= stage timeout {STAGE_TIMEOUT_S:g}s + {MARGIN_S:g}s": worst_p99 <= STAGE_TIMEOUT_S + MARGIN_S,
        "recovered: last quarter of 'restarted' served by the primary cleaner": bool(tail)
        and all(w == "cleaner-node" for w in tail),
        "deadline: zero breaker openings while one client sends 1 ms deadlines": deadline.openings == 0,
        "deadline: zero fallbacks for the other clients": deadline.fallbacks == 0,
    }


def report(results: dict[str, PhaseStats], checks: dict[str, bool]) -> None:
    """Print the table and the targets."""
    print(
        f"{'phase':<10} {'sent':>5} {'errors':>6} {'fallbk':>6} {'backup':>6} {'opened':>6} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for phase, stats in results.items():
        row = summary(stats)
        print(
            f"{phase:<10} {row['sent']:>5} {row['errors']:>6} {row['fallbacks']:>6} {row['by_backup']:>6} "
            f"{row['breaker_openings']:>6} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f}"
        )
    for name, ok in checks.items():
        print(f"target {'met' if ok else 'MISSED'}: {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help=f"total duration, split over {len(PHASES)} phases")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (fixed, open loop)")
    parser.add_argument("--client-timeout", type=float, default=30.0)
    parser.add_argument(
        "--others-rate", type=float, default=OTHERS_RATE, help="normal requests per second in the 'deadline' phase"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="where faults.json goes")
    args = parser.parse_args(argv)
    print(f"faults: {args.rate:g} req/s for {args.seconds:g}s over phases {', '.join(PHASES)} (loopback fakes); "
          f"in 'deadline' the others send {args.others_rate:g} req/s and one client {ROGUE_HEADERS} at "
          f"{ROGUE_RATE:g} req/s (row {ROGUE})")  # fmt: skip
    results = asyncio.run(run(args.rate, args.seconds, args.client_timeout, args.others_rate))
    checks = targets(results)
    report(results, checks)
    write_json(
        args.out / "faults.json",
        {"rate": args.rate, "seconds": args.seconds, "rogue_rate": ROGUE_RATE, "others_rate": args.others_rate,
         "phases": {phase: summary(stats) for phase, stats in results.items()}, "targets": checks},
    )  # fmt: skip
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
