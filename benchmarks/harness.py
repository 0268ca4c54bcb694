"""Shared pieces of the latency benchmarks: subprocess services on loopback, the load runs, percentiles, tables."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks.scoring import percentile

REPO = Path(__file__).resolve().parents[1]
PERCENTILES = (50, 90, 99)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    """A subprocess serving HTTP on loopback; its output goes to a log file in the run folder."""

    name: str
    argv: list[str]
    url: str
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Service:
        handle = self.log.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        return self

    def wait_ready(self, path: str, timeout_s: float = 60.0) -> float:
        """Poll `path` until it answers 200; the seconds since start. Raises with the log's tail on failure."""
        assert self.process is not None
        began = time.perf_counter()
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - began < timeout_s:
                if self.process.poll() is not None:
                    break
                try:
                    if client.get(self.url + path).status_code == 200:
                        return time.perf_counter() - began
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready on {self.url}{path}:\n{tail}")

    def rss_mb(self) -> float:
        """Resident memory of the process (VmRSS), in MiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return 0.0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def fake_worker(run_dir: Path, name: str, delay_s: float, reply: str | None) -> Service:
    """The repository's fake vLLM server (benchmarks/fakes) as a subprocess serving the two stage adapters."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.fakes.vllm_server", "--port", str(port), "--base", "base"]
    argv += ["--base-path", "/models/base", "--adapter", "clean-a=/a/clean", "--adapter", "desc-a=/a/desc"]
    argv += ["--delay", str(delay_s)]
    argv += ["--reply-mode", "fixed", "--reply", reply] if reply is not None else ["--reply-mode", "echo"]
    return Service(name, argv, f"http://127.0.0.1:{port}", run_dir / f"{name}.log").start()


def gateway_cluster(cleaner_url: str, describer_url: str, targets: dict[str, Any], log_level: str) -> dict[str, Any]:
    """A cluster file for the gateway: one cleaner and one describer worker, optional relay targets."""
    prompts = REPO / "config" / "prompts"
    return {
        "gateway": {"log_level": log_level},
        "models": {"base": {"path": "/models/base"}},
        "adapters": {
            "clean-a": {"role": "cleaner", "tier": "small", "base": "base", "path": "/a/clean", "rank": 8},
            "desc-a": {"role": "describer", "tier": "small", "base": "base", "path": "/a/desc", "rank": 8},
        },
        "workers": [
            {"name": "cleaner", "node": "n1", "url": cleaner_url + "/v1", "base": "base", "adapters": ["clean-a"]},
            {"name": "describer", "node": "n2", "url": describer_url + "/v1", "base": "base", "adapters": ["desc-a"]},
        ],
        "stages": {
            "cleaner": {"adapters": {"small": "clean-a"}, "prompt_file": str(prompts / "cleaner.md")},
            "describer": {"adapters": {"small": "desc-a"}, "prompt_file": str(prompts / "describer.md")},
        },
        "targets": targets,
    }


def start_gateway(run_dir: Path, cluster: dict[str, Any]) -> Service:
    """`mpr serve` (uvicorn) as a subprocess for the given cluster."""
    port = free_port()
    config = run_dir / "cluster.yaml"
    config.write_text(yaml.safe_dump(cluster, sort_keys=False), encoding="utf-8")
    argv = [sys.executable, "-m", "mpr", "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    return Service("gateway", argv, f"http://127.0.0.1:{port}", run_dir / "gateway.log").start()


@dataclass(frozen=True)
class Load:
    """One load run: where, what, how hard and for how long."""

    url: str
    body: dict[str, Any]
    concurrency: int
    duration_s: float
    headers: tuple[str, ...] = ()
    collect_stages: bool = False
    max_requests: int = 20_000


def run_load(load: Load, run_dir: Path) -> dict[str, Any]:
    """Run the load generator as its own process; its JSON result."""
    body_file = run_dir / "body.json"
    body_file.write_text(json.dumps(load.body), encoding="utf-8")
    argv = [sys.executable, "-m", "benchmarks.loadgen", "--url", load.url, "--body-file", str(body_file)]
    argv += ["--concurrency", str(load.concurrency), "--duration", str(load.duration_s)]
    argv += ["--max-requests", str(load.max_requests)]
    for header in load.headers:
        argv += ["--header", header]
    if load.collect_stages:
        argv.append("--collect-stages")
    done = subprocess.run(argv, cwd=REPO, capture_output=True, check=False, timeout=load.duration_s + 120)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def summary(result: dict[str, Any]) -> dict[str, float]:
    latencies = result["latencies_ms"]
    out = {f"p{q}_ms": percentile(latencies, q) for q in PERCENTILES}
    out.update(rps=result["rps"], count=result["count"], errors=result["errors"])
    return out


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "-" * len(line), *body])


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
