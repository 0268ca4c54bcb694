"""`POST /refine`: the refinement pipeline as a plain JSON API."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from config import StageName, Tier
from gateway.deadline import DEADLINE_HEADER, request_deadline_s
from gateway.errors import InvalidRequest
from gateway.identity import new_id, request_id_of
from gateway.pipeline.outcomes import Refinement
from gateway.pipeline.refinement import RefineOptions
from gateway.routes.idempotent import respond_once
from gateway.state import GatewayState, gateway_state
from gateway.telemetry import note_request

router = APIRouter()


class RefineBody(BaseModel):
    """The request; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    prompt: str
    # Echoed in the x-mpr-run-id header: visible ASCII only.
    run_id: str | None = Field(None, max_length=200, pattern=r"^[!-~]+$")
    idempotency_key: str | None = Field(None, max_length=200)
    stages: list[StageName] | None = None
    tier: Tier | None = None
    # A shorter overall deadline than the gateway's (also the x-mpr-deadline-ms header).
    deadline_ms: int | None = Field(None, ge=1, le=3_600_000)


def check_prompt(state: GatewayState, prompt: str, param: str) -> None:
    if not prompt.strip():
        raise InvalidRequest("The prompt is empty.", param=param)
    limit = state.cluster.gateway.max_prompt_chars
    if len(prompt) > limit:
        raise InvalidRequest(f"The prompt has {len(prompt)} characters; the limit is {limit}.", param=param)


def stage_header(refinement: Refinement | None) -> str:
    """`x-mpr-stages`: each stage's status, or `none` when nothing was refined (relay only)."""
    if refinement is None:
        return "none"
    return ";".join(f"{name}={report.status}" for name, report in refinement.stages.items())


def run_headers(request_id: str, run_id: str, refinement: Refinement | None) -> dict[str, str]:
    """The headers every refine and chat response carries."""
    return {"x-request-id": request_id, "x-mpr-run-id": run_id, "x-mpr-stages": stage_header(refinement)}


@router.post("/refine", response_model=None)
async def refine(body: RefineBody, request: Request) -> Response:
    """With an `idempotency_key` the pipeline runs once per key; repeats get the stored response."""
    if body.idempotency_key is None:
        return await _refine(body, request)
    return await respond_once(
        request, "/refine", body.idempotency_key, body.model_dump(), functools.partial(_refine, body, request)
    )


async def _refine(body: RefineBody, request: Request) -> JSONResponse:
    state = gateway_state(request)
    request_id = request_id_of(request)
    check_prompt(state, body.prompt, "prompt")
    run_id = body.run_id or new_id("run")
    deadline_s = request_deadline_s(
        state.cluster.gateway.request_timeout_s, request.headers.get(DEADLINE_HEADER), body.deadline_ms
    )
    options = RefineOptions(frozenset(body.stages) if body.stages is not None else None, body.tier, deadline_s)
    refinement = await state.refiner.refine(body.prompt, run_id, request_id, options)
    note_request(request, state.cluster.gateway.refine_model, refinement)
    payload = {**refinement.details(), "idempotency_key": body.idempotency_key, "request_id": request_id}
    return JSONResponse(payload, headers=run_headers(request_id, run_id, refinement))
