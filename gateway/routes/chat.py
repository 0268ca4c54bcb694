"""`POST /v1/chat/completions`: the refined prompt as the answer (refine model), or refine-then-answer (targets)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from config import STAGE_NAMES, StageName
from gateway.deadline import DEADLINE_HEADER, request_deadline_s
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.identity import new_id, request_id_of
from gateway.pipeline.outcomes import Refinement
from gateway.pipeline.refinement import RefineOptions
from gateway.relay import answer_body, forwarded_body, refinement_details, relay_stream
from gateway.routes.idempotent import header_key, respond_once
from gateway.routes.refine import check_prompt, run_headers
from gateway.state import GatewayState, gateway_state
from gateway.streaming import sse_from_chunks, sse_response
from gateway.telemetry import note_request

router = APIRouter()


class ChatBody(BaseModel):
    """The OpenAI chat request; every field we do not use is accepted and kept."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    n: int | None = Field(None, ge=1, le=16)

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


def find_last_user(messages: list[dict[str, Any]]) -> tuple[int, str | None] | None:
    """Index and text of the last user message (None: it has no text); None when there is no user message."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return index, content
        if isinstance(content, list):
            texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            if texts:
                return index, "\n".join(t for t in texts if isinstance(t, str))
        return index, None
    return None


def last_user_text(messages: list[dict[str, Any]]) -> tuple[int, str]:
    """Index and text of the last user message; text parts of a content list are joined."""
    found = find_last_user(messages)
    if found is None:
        raise InvalidRequest("The conversation has no user message to refine.", param="messages")
    index, text = found
    if text is None:
        raise InvalidRequest("The last user message has no text content.", param=f"messages.{index}.content")
    return index, text


def refine_options(body: ChatBody, request: Request) -> RefineOptions:
    """The stages (below) and the deadline: `mpr.deadline_ms` or `x-mpr-deadline-ms`, capped by the config."""
    mpr = (body.model_extra or {}).get("mpr")
    mpr = mpr if isinstance(mpr, dict) else {}
    asked = mpr.get("deadline_ms")
    if asked is not None and (not isinstance(asked, int) or isinstance(asked, bool)):
        raise InvalidRequest("mpr.deadline_ms must be an integer (milliseconds).", param="mpr.deadline_ms")
    limit_s = gateway_state(request).cluster.gateway.request_timeout_s
    deadline_s = request_deadline_s(limit_s, request.headers.get(DEADLINE_HEADER), asked)
    return RefineOptions(stages=_stages(mpr.get("stages"), request), deadline_s=deadline_s)


def _stages(given: Any, request: Request) -> frozenset[StageName] | None:
    """Stages from the `mpr.stages` body field or the `x-mpr-stages` header (`none` turns refinement off)."""
    header = request.headers.get("x-mpr-stages")
    if given is None and header is not None:
        given = [] if header.strip().lower() == "none" else [s.strip() for s in header.split(",") if s.strip()]
    if given is None:
        return None
    if not isinstance(given, list) or any(s not in STAGE_NAMES for s in given):
        raise InvalidRequest(f"stages must be a list drawn from {list(STAGE_NAMES)}.", param="mpr.stages")
    return frozenset(s for s in STAGE_NAMES if s in given)


def _usage(refinement: Refinement) -> dict[str, int]:
    u = refinement.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def completion_body(completion_id: str, model: str, created: int, n: int, refinement: Refinement) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": refinement.refined_prompt},
            "logprobs": None,
            "finish_reason": "stop",
        }
        for i in range(n)
    ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": _usage(refinement),
        "system_fingerprint": None,
        "mpr": refinement.details(),
    }


def completion_chunks(
    completion_id: str, model: str, created: int, n: int, refinement: Refinement, include_usage: bool
) -> Iterator[dict[str, Any]]:
    base: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
    if include_usage:
        base["usage"] = None
    deltas = [{"role": "assistant", "content": ""}, {"content": refinement.refined_prompt}]
    for delta in deltas:
        choices = [{"index": i, "delta": delta, "logprobs": None, "finish_reason": None} for i in range(n)]
        yield {**base, "choices": choices}
    final: list[dict[str, Any]] = [
        {"index": i, "delta": {}, "logprobs": None, "finish_reason": "stop"} for i in range(n)
    ]
    yield {**base, "choices": final, "mpr": refinement.details()}
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(refinement)}


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


async def refine_for_target(
    state: GatewayState, body: ChatBody, request: Request, request_id: str, run_id: str
) -> tuple[int | None, Refinement | None]:
    """Refine the last user message unless turned off (`none`) or there is no text to refine (then relay only)."""
    options = refine_options(body, request)
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
    """Refine, forward the whole request to the target, return its answer (streamed as it arrives)."""
    run_id = new_id("run")
    index, refinement = await refine_for_target(state, body, request, request_id, run_id)
    payload = forwarded_body(body.model_dump(exclude_unset=True), index, refinement)
    headers = run_headers(request_id, run_id, refinement)
    if body.stream:
        stream = await state.targets.open_stream(body.model, payload, request_id)
        translate = functools.partial(state.targets.translate, body.model)
        events = relay_stream(stream, body.model, body.include_usage, translate)
        # The background close also runs when the client disconnects before the first chunk.
        return sse_response(events, headers, BackgroundTask(stream.aclose))
    answer = await state.targets.complete(body.model, payload, request_id)
    return JSONResponse(answer_body(answer, body.model, refinement_details(run_id, refinement)), headers=headers)
