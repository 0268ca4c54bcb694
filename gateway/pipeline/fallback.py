"""Stage execution under a deadline: fail over along the router's endpoints, never raise to the client."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from config import StageName
from gateway.errors import FailureKind, UpstreamError
from gateway.pipeline.outcomes import FAILURE_REASONS, ReasonClass, StageReport
from gateway.upstream.breakers import EndpointRegistry
from gateway.upstream.calls import Route
from gateway.upstream.workers import WorkerPool, WorkerReply, WorkerRequest


@dataclass(frozen=True)
class StageOutcome:
    """A stage's text (None when it fell back) and its report (status ok or fallback at this point)."""

    text: WorkerReply | None
    report: StageReport


async def _try_routes(
    pool: WorkerPool, registry: EndpointRegistry, routes: list[Route], request: WorkerRequest, tried: list[str]
) -> tuple[WorkerReply, int]:
    last: UpstreamError | None = None
    attempts = 0
    for route in routes:
        if not registry.available(route.worker):
            continue
        tried.append(route.worker)
        registry.begin(route.worker)
        try:
            reply, used = await pool.chat(route, request)
        except UpstreamError as exc:
            registry.end(route.worker, str(exc))
            attempts += 1
            last = exc
            continue
        except BaseException:
            # Cancelled by the stage's budget, the client's deadline or disconnect: not the worker's fault.
            registry.abandon(route.worker)
            raise
        registry.end(route.worker, None)
        return reply, attempts + used
    if last is None:
        raise UpstreamError("no endpoint available", upstream="-", kind=FailureKind.UNAVAILABLE, retryable=False)
    raise last


def _report(
    started: float,
    tried: list[str],
    reason: str,
    kind: ReasonClass,
    reply: WorkerReply | None = None,
    attempts: int = 0,
) -> StageReport:
    route = reply.route if reply else None
    return StageReport(
        status="ok" if reply is not None else "fallback",
        latency_ms=(time.perf_counter() - started) * 1000.0,
        reason=reason,
        reason_class=kind,
        worker=route.worker if route else (tried[-1] if tried else None),
        adapter=route.adapter if route else None,
        tier=route.tier if route else None,
        attempts=attempts,
    )


async def run_stage(
    stage: StageName,
    routes: list[Route],
    request: WorkerRequest,
    pool: WorkerPool,
    registry: EndpointRegistry,
) -> StageOutcome:
    """Run one stage within its budget; any fault becomes a `fallback` report with the reason and its class."""
    started = time.perf_counter()
    tried: list[str] = []
    if not routes:
        return StageOutcome(None, _report(started, tried, f"no {stage} endpoint available", ReasonClass.UNAVAILABLE))
    try:
        async with asyncio.timeout(request.budget_s):
            reply, attempts = await _try_routes(pool, registry, routes, request, tried)
    except TimeoutError:
        if tried and not request.clients_deadline:
            # The gateway's own stage timeout ran out on this endpoint: that counts against it.
            registry.record_failure(tried[-1], f"timed out after {request.budget_s:g}s")
        reason = f"timed out after {request.budget_s:g}s"
        return StageOutcome(None, _report(started, tried, reason, ReasonClass.TIMEOUT))
    except UpstreamError as exc:
        return StageOutcome(None, _report(started, tried, str(exc), FAILURE_REASONS[exc.kind]))
    failed_over = reply.route != routes[0]
    via = f" (failed over to {reply.route.worker})" if failed_over else ""
    kind = ReasonClass.FAILOVER if failed_over else ReasonClass.SERVED
    return StageOutcome(reply, _report(started, tried, f"served by {reply.route.adapter}{via}", kind, reply, attempts))
