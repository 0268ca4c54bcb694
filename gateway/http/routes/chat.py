"""`POST /v1/chat/completions`: the refined prompt as the answer (refine model), or refine-then-answer (targets)."""

from __future__ import annotations

import functools
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from gateway.errors import InvalidRequest, ModelNotFound
from gateway.http.protocol import ChatBody, completion_body, completion_chunks, find_last_user, last_user_text
from gateway.http.relay import answer_body, forwarded_body, refinement_details, relay_stream
from gateway.http.request_ids import new_id, request_id_of
from gateway.http.routes.idempotent import header_key, respond_once
from gateway.http.routes.shared import check_prompt, refine_options, run_headers
from gateway.http.state import GatewayState, gateway_state
from gateway.http.streaming import sse_from_chunks, sse_response
from gateway.http.telemetry import note_request
from gateway.pipeline.outcomes import Refinement
from gateway.pipeline.refinement import RefineOptions
from gateway.upstream.calls import Deadline

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatBody, request: Request) -> Response:
    """With an `Idempotency-Key` header the request runs once per key; repeats get the stored response."""
    key = header_key(request)
    if key is None:
        return await _chat_completions(body, request)
    payload = {"body": body.model_dump(), "stages": request.headers.get("x-mpr-stages")}
    produce = functools.partial(_chat_completions, body, request)
    return await respond_once(request, "/v1/chat/completions", key, payload, produce)


async def _chat_completions(body: ChatBody, request: Request) -> JSONResponse | StreamingResponse:
    state = gateway_state(request)
    request_id = request_id_of(request)
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest("stream_options is only allowed when stream is true.", param="stream_options")
    if body.model in state.targets:
        refuse_fields(body, state.cluster.targets[body.model].refused_fields)
        return await answer_with_target(state, body, request, request_id)
    if body.model != state.cluster.gateway.refine_model:
        known = ", ".join([state.cluster.gateway.refine_model, *state.targets.names])
        message = f"The model '{body.model}' does not exist on this gateway (models: {known})."
        raise ModelNotFound(message, param="model")
    index, text = last_user_text(body.messages)
    check_prompt(state, text, f"messages.{index}.content")
    run_id = new_id("run")
    refinement = await state.refiner.refine(text, run_id, request_id, refine_options(body, request))
    note_request(request, body.model, refinement)
    headers = run_headers(request_id, run_id, refinement)
    completion_id, created, n = new_id("chatcmpl"), int(time.time()), body.n or 1
    if body.stream:
        chunks = completion_chunks(completion_id, body.model, created, n, refinement, body.include_usage)
        return sse_response(sse_from_chunks(chunks), headers)
    return JSONResponse(completion_body(completion_id, body.model, created, n, refinement), headers=headers)


def refuse_fields(body: ChatBody, refused: tuple[str, ...]) -> None:
    """A 400 for a field the target's configuration refuses (before any refinement runs)."""
    if not refused:
        return  # most targets refuse nothing: no second dump of the body on the relay's path
    sent = body.model_dump(exclude_unset=True)
    for name in refused:
        if sent.get(name) is not None:
            message = f"The model '{body.model}' does not accept '{name}' on this gateway."
            raise InvalidRequest(message, param=name, code="unsupported_parameter")


async def refine_for_target(
    state: GatewayState, body: ChatBody, request: Request, request_id: str, run_id: str, options: RefineOptions
) -> tuple[int | None, Refinement | None]:
    """Refine the last user message unless turned off (`none`) or there is no text to refine (then relay only)."""
    index, text = find_last_user(body.messages) or (None, None)
    if options.stages == frozenset() or index is None or text is None or not text.strip():
        note_request(request, body.model)
        return None, None
    check_prompt(state, text, f"messages.{index}.content")
    refinement = await state.refiner.refine(text, run_id, request_id, options)
    note_request(request, body.model, refinement)
    return index, refinement


async def answer_with_target(
    state: GatewayState, body: ChatBody, request: Request, request_id: str
) -> JSONResponse | StreamingResponse:
    """Refine, forward the whole request to the target, return its answer (streamed as it arrives).

    The request's deadline bounds all of it: refinement, the target call with its retries, and the whole stream.
    """
    options = refine_options(body, request)
    deadline = Deadline.after(options.deadline_s)
    run_id = new_id("run")
    index, refinement = await refine_for_target(state, body, request, request_id, run_id, options)
    payload = forwarded_body(body.model_dump(exclude_unset=True), index, refinement)
    headers = run_headers(request_id, run_id, refinement)
    if body.stream:
        stream = await state.targets.open_stream(body.model, payload, request_id, deadline)
        events = relay_stream(stream, body.model, body.include_usage, deadline)
        # The background close also runs when the client disconnects before the first chunk.
        return sse_response(events, headers, BackgroundTask(stream.aclose))
    answer = await state.targets.complete(body.model, payload, request_id, deadline)
    return JSONResponse(answer_body(answer, body.model, refinement_details(run_id, refinement)), headers=headers)
