"""A small closed-loop HTTP/1.1 load generator (keep-alive connections, raw asyncio), run as its own process.

`python -m benchmarks.loadgen --url URL --body-file F --concurrency C --duration S` prints one JSON object:
count, errors, seconds, rps, the sorted latencies in ms and, with `--collect-stages`, per-request pairs
(pipeline ms, slowest worker stage ms) read from /refine response bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Tally:
    """What the connections measured; shared by all of them (one event loop, no locks needed)."""

    latencies: list[float] = field(default_factory=list)
    stages: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0
    started: int = 0


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
    keep_alive = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        return int(status_line.split()[1]), await reader.readexactly(int(headers["content-length"])), keep_alive
    chunks: list[bytes] = []
    while True:  # chunked transfer encoding
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            return int(status_line.split()[1]), b"".join(chunks), keep_alive
        chunks.append(data[:-2])


def slowest_stage(body: bytes) -> tuple[float, float]:
    data = json.loads(body)
    stages = [s["latency_ms"] for s in data.get("stages", {}).values() if s.get("status") != "skipped"]
    return float(data.get("latency_ms", 0.0)), max(stages, default=0.0)


async def connection(
    target: tuple[str, int, bytes], deadline: float, limit: int, tally: Tally, record: bool, collect: bool
) -> None:
    host, port, request = target
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and tally.started < limit:
            tally.started += 1
            began = time.perf_counter()
            writer.write(request)
            status, body, keep_alive = await read_response(reader)
            elapsed = (time.perf_counter() - began) * 1000.0
            if record and status != 200:
                tally.errors += 1
            elif record:
                tally.latencies.append(elapsed)
                if collect:
                    tally.stages.append(slowest_stage(body))
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run(args: argparse.Namespace, body: bytes) -> dict[str, object]:
    target = build_request(args.url, body, args.header)
    warm = Tally()
    warm_deadline = time.perf_counter() + args.warmup
    await asyncio.gather(
        *(connection(target, warm_deadline, 10**9, warm, False, False) for _ in range(args.concurrency))
    )
    tally = Tally()
    started = time.perf_counter()
    deadline = started + args.duration
    limit = args.max_requests
    await asyncio.gather(
        *(connection(target, deadline, limit, tally, True, args.collect_stages) for _ in range(args.concurrency))
    )
    seconds = time.perf_counter() - started
    return {
        "count": len(tally.latencies),
        "errors": tally.errors,
        "seconds": seconds,
        "rps": len(tally.latencies) / seconds,
        "latencies_ms": sorted(tally.latencies),
        "stages_ms": tally.stages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Closed-loop HTTP/1.1 POST load generator.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="extra header line, e.g. 'x-mpr-stages: none'")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of measurement")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of unrecorded requests first")
    parser.add_argument("--collect-stages", action="store_true")
    args = parser.parse_args(argv)
    body = Path(args.body_file).read_bytes()
    try:
        import uvloop

        result = uvloop.run(run(args, body))
    except ImportError:
        result = asyncio.run(run(args, body))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
