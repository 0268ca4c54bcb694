"""Operational routes: liveness, readiness, Prometheus metrics and the model list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.http.state import gateway_state
from gateway.upstream.readiness import readiness

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        200: {"description": "every stage has a reachable endpoint"},
        503: {"description": "not ready: a stage has no reachable endpoint (breakers open, probes failing)"},
    },
)
async def ready(request: Request) -> JSONResponse:
    state = gateway_state(request)
    # From the probe task's last results: a /ready call costs the workers nothing (no load amplifier).
    await state.prober.wait_first_round()
    ok, body = readiness(state.cluster, state.registry)
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state = gateway_state(request)
    # Endpoint gauges (breaker, availability, in-flight) are read from the registry during render().
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The refine model, then every downstream target (refine-then-answer) by its public name."""
    state = gateway_state(request)
    names = [state.cluster.gateway.refine_model, *state.targets.names]
    cards = [{"id": name, "object": "model", "created": state.started_at, "owned_by": "mpr-gateway"} for name in names]
    return {"object": "list", "data": cards}
