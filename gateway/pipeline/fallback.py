"""Stage execution under a deadline: fail over along the router's endpoints, never raise to the client."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from config import StageName
from gateway.endpoints import EndpointRegistry
from gateway.pipeline.outcomes import Route, StageReport, StageText
from gateway.workers import StageRequest, WorkerError, WorkerPool


@dataclass(frozen=True)
class StageOutcome:
    """A stage's text (None when it fell back) and its report (status ok or fallback at this point)."""

    text: StageText | None
    report: StageReport


async def _try_routes(
    pool: WorkerPool, registry: EndpointRegistry, routes: list[Route], request: StageRequest, tried: list[str]
) -> tuple[StageText, int]:
    last: WorkerError | None = None
    attempts = 0
    for route in routes:
        if not registry.available(route.worker):
            continue
        tried.append(route.worker)
        registry.begin(route.worker)
        error: str | None = "cancelled"
        try:
            text, used = await pool.chat(route, request)
            attempts += used
            error = None
            return text, attempts
        except WorkerError as exc:
            attempts += 1
            last = exc
            error = str(exc)
        finally:
            registry.end(route.worker, error)
    if last is None:
        raise WorkerError("-", "unavailable", "no endpoint available", retryable=False)
    raise last


async def run_stage(
    stage: StageName,
    routes: list[Route],
    request: StageRequest,
    pool: WorkerPool,
    registry: EndpointRegistry,
) -> StageOutcome:
    """Run one stage within its timeout; any fault becomes a `fallback` report with the reason."""
    started = time.perf_counter()
    tried: list[str] = []

    def report(status: str, reason: str, text: StageText | None = None, attempts: int = 0) -> StageReport:
        route = text.route if text else None
        return StageReport(
            status="ok" if status == "ok" else "fallback",
            latency_ms=(time.perf_counter() - started) * 1000.0,
            reason=reason,
            worker=route.worker if route else (tried[-1] if tried else None),
            adapter=route.adapter if route else None,
            tier=route.tier if route else None,
            attempts=attempts,
        )

    if not routes:
        return StageOutcome(None, report("fallback", f"no {stage} endpoint available"))
    try:
        async with asyncio.timeout(request.timeout_s):
            text, attempts = await _try_routes(pool, registry, routes, request, tried)
    except TimeoutError:
        return StageOutcome(None, report("fallback", f"timed out after {request.timeout_s:g}s"))
    except WorkerError as exc:
        return StageOutcome(None, report("fallback", str(exc)))
    via = "" if text.route == routes[0] else f" (failed over to {text.route.worker})"
    return StageOutcome(text, report("ok", f"served by {text.route.adapter}{via}", text, attempts))
