"""The quality benchmark: a labelled prompt set through a gateway's /refine, scored, tabled, saved and plotted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from pathlib import Path

import httpx

from benchmarks.prompt_set import DEFAULT_SET, LabelledPrompt, load_prompt_set
from benchmarks.scoring import STAGES, Observation, summarise, table
from config.cluster import SpellingConfig
from config.loading import LOCAL_CLUSTER
from gateway.pipeline.lexicon import Lexicon

DEFAULT_GATEWAY = "http://127.0.0.1:8000"
DEFAULT_CONFIG = LOCAL_CLUSTER
RESULTS_DIR = Path(__file__).resolve().parent / "results"
UNREACHABLE_WORKER = "http://127.0.0.1:9/v1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.quality", description=__doc__)
    parser.add_argument("--gateway", default=DEFAULT_GATEWAY, help="gateway base URL (default: the embedded stack)")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="no workers: run the gateway in-process with unreachable workers (measures arbiter + local cleaner)",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="cluster file for --offline")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_SET, help="labelled JSONL prompt set")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the JSON result and PNG plot")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    return parser


def offline_app_cluster(config: Path) -> object:
    """The cluster file with every worker pointed at a port where nothing listens."""
    from config import MprEnvironment, load_cluster

    # The real MPR_HOME: the describer's knowledge index is the demo's (no worker is reached either way).
    cluster = load_cluster(config, MprEnvironment(), require_secrets=False)
    workers = [w.model_copy(update={"url": UNREACHABLE_WORKER}) for w in cluster.workers]
    return cluster.model_copy(update={"workers": workers})


@contextlib.asynccontextmanager
async def gateway_client(args: argparse.Namespace) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the gateway under test: remote by URL, or an in-process app (lifespan run) offline."""
    timeout = httpx.Timeout(args.timeout)
    if not args.offline:
        async with httpx.AsyncClient(base_url=args.gateway, timeout=timeout) as client:
            yield client
        return
    from config import Cluster
    from gateway.http.app import create_app

    cluster = offline_app_cluster(args.config)
    assert isinstance(cluster, Cluster)
    app = create_app(cluster)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://offline-gateway", timeout=timeout) as client,
    ):
        yield client


async def observe(client: httpx.AsyncClient, item: LabelledPrompt) -> Observation:
    started = time.perf_counter()
    try:
        response = await client.post("/refine", json={"prompt": item.prompt, "run_id": f"quality-{item.id}"})
        elapsed = (time.perf_counter() - started) * 1000.0
        response.raise_for_status()
        body = response.json()
    except httpx.HTTPError as exc:
        return Observation(item, item.prompt, {}, {}, (time.perf_counter() - started) * 1000.0, str(exc))
    stages = body.get("stages", {})
    statuses = {name: str(stages[name]["status"]) for name in STAGES if name in stages}
    reasons = {name: str(stages[name]["reason"]) for name in STAGES if name in stages}
    return Observation(item, str(body.get("cleaned_prompt", "")), statuses, reasons, elapsed)


def progress(done: int, total: int, observation: Observation) -> None:
    mark = "!" if observation.error else " "
    line = f"\r[{done:>4}/{total}]{mark}{observation.item.id:<16} {observation.latency_ms:8.1f} ms"
    print(line, end="" if done < total else "\n", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, items: Sequence[LabelledPrompt]) -> list[Observation]:
    observations: list[Observation] = []
    async with gateway_client(args) as client:
        for done, item in enumerate(items, start=1):
            observation = await observe(client, item)
            observations.append(observation)
            progress(done, len(items), observation)
    return observations


def reachable(url: str) -> str | None:
    """None when a gateway answers /health at `url`, else why not."""
    try:
        httpx.get(url.rstrip("/") + "/health", timeout=5.0)
    except httpx.HTTPError as exc:
        return str(exc) or type(exc).__name__
    return None


def write_results(out: Path, target: str, summary: dict[str, object], observations: list[Observation]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"quality-{stamp}.json"
    records = [{**asdict(o), "item": asdict(o.item)} for o in observations]
    path.write_text(json.dumps({"target": target, "summary": summary, "observations": records}, indent=2))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    items = load_prompt_set(args.prompts)
    target = f"offline ({args.config.name}, no workers)" if args.offline else args.gateway
    if not args.offline:
        problem = reachable(args.gateway)
        if problem:
            print(f"No gateway at {args.gateway} ({problem}).", file=sys.stderr)
            print("Start the embedded stack with `mpr up`, pass --gateway URL, or use --offline.", file=sys.stderr)
            return 2
    print(f"quality benchmark: {len(items)} prompts from {args.prompts.name} against {target}", file=sys.stderr)
    observations = asyncio.run(run(args, items))
    summary = summarise(observations, Lexicon.load(SpellingConfig()))
    print(table(summary))
    path = write_results(args.out, target, summary, observations)
    print(f"wrote {path}")
    from benchmarks.plots import plot_quality

    png = plot_quality(summary, observations, path.with_suffix(".png"), target)
    print(f"wrote {png}" if png else "matplotlib is not installed (pip install -e '.[bench]'): no plot")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
