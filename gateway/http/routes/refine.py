"""`POST /refine`: the refinement pipeline as a plain JSON API."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.http.deadlines import DEADLINE_HEADER, request_deadline_s
from gateway.http.protocol import RefineBody
from gateway.http.request_ids import new_id, request_id_of
from gateway.http.routes.idempotent import respond_once
from gateway.http.routes.shared import check_prompt, run_headers
from gateway.http.state import gateway_state
from gateway.http.telemetry import note_request
from gateway.pipeline.refinement import RefineOptions

router = APIRouter()


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
