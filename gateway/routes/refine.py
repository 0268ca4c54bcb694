"""`POST /refine`: the refinement pipeline as a plain JSON API."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from config import StageName, Tier
from gateway.errors import InvalidRequest
from gateway.identity import new_id, request_id_of
from gateway.pipeline.outcomes import Refinement
from gateway.pipeline.refinement import RefineOptions
from gateway.state import GatewayState, gateway_state

router = APIRouter()


class RefineBody(BaseModel):
    """The request; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    prompt: str
    run_id: str | None = Field(None, max_length=200)
    idempotency_key: str | None = Field(None, max_length=200)
    stages: list[StageName] | None = None
    tier: Tier | None = None


def check_prompt(state: GatewayState, prompt: str, param: str) -> None:
    if not prompt.strip():
        raise InvalidRequest("The prompt is empty.", param=param)
    limit = state.cluster.gateway.max_prompt_chars
    if len(prompt) > limit:
        raise InvalidRequest(f"The prompt has {len(prompt)} characters; the limit is {limit}.", param=param)


def stage_header(refinement: Refinement) -> str:
    return ";".join(f"{name}={report.status}" for name, report in refinement.stages.items())


def log_refinement(state: GatewayState, route: str, request_id: str, refinement: Refinement) -> None:
    state.metrics.observe_refinement(refinement)
    record: dict[str, Any] = {
        "event": "refine",
        "route": route,
        "run_id": refinement.run_id,
        "request_id": request_id,
        "latency_ms": round(refinement.latency_ms, 2),
        "stages": {
            n: {"status": r.status, "reason": r.reason, "ms": round(r.latency_ms, 1)}
            for n, r in refinement.stages.items()
        },
    }
    state.logger.info(json.dumps(record))


@router.post("/refine")
async def refine(body: RefineBody, request: Request) -> JSONResponse:
    started = time.perf_counter()
    state = gateway_state(request)
    request_id = request_id_of(request)
    check_prompt(state, body.prompt, "prompt")
    run_id = body.run_id or new_id("run")
    options = RefineOptions(frozenset(body.stages) if body.stages is not None else None, body.tier)
    refinement = await state.refiner.refine(body.prompt, run_id, request_id, options)
    log_refinement(state, "/refine", request_id, refinement)
    payload = {**refinement.details(), "idempotency_key": body.idempotency_key, "request_id": request_id}
    state.metrics.observe_request("/refine", "mpr-refine", 200, time.perf_counter() - started)
    headers = {"x-request-id": request_id, "x-mpr-run-id": run_id, "x-mpr-stages": stage_header(refinement)}
    return JSONResponse(payload, headers=headers)
