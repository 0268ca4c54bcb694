"""`POST /v1/chat/completions` for the refine model: the refined prompt as the assistant's answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from config import STAGE_NAMES, StageName
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.identity import new_id, request_id_of
from gateway.pipeline.outcomes import Refinement
from gateway.pipeline.refinement import RefineOptions
from gateway.routes.refine import check_prompt, log_refinement, stage_header
from gateway.state import gateway_state
from gateway.streaming import sse_from_chunks

router = APIRouter()


class ChatBody(BaseModel):
    """The OpenAI chat request; every field we do not use is accepted and kept."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    n: int | None = Field(None, ge=1, le=16)


def last_user_text(messages: list[dict[str, Any]]) -> tuple[int, str]:
    """Index and text of the last user message; text parts of a content list are joined."""
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
        raise InvalidRequest("The last user message has no text content.", param=f"messages.{index}.content")
    raise InvalidRequest("The conversation has no user message to refine.", param="messages")


def refine_options(body: ChatBody, request: Request) -> RefineOptions:
    """Stages from the `mpr.stages` body field or the `x-mpr-stages` header (`none` turns refinement off)."""
    extra = body.model_extra or {}
    given: Any = (extra.get("mpr") or {}).get("stages") if isinstance(extra.get("mpr"), dict) else None
    header = request.headers.get("x-mpr-stages")
    if given is None and header is not None:
        given = [] if header.strip().lower() == "none" else [s.strip() for s in header.split(",") if s.strip()]
    if given is None:
        return RefineOptions()
    if not isinstance(given, list) or any(s not in STAGE_NAMES for s in given):
        raise InvalidRequest(f"stages must be a list drawn from {list(STAGE_NAMES)}.", param="mpr.stages")
    stages: frozenset[StageName] = frozenset(s for s in STAGE_NAMES if s in given)
    return RefineOptions(stages=stages)


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
async def chat_completions(body: ChatBody, request: Request) -> JSONResponse | StreamingResponse:
    started = time.perf_counter()
    state = gateway_state(request)
    request_id = request_id_of(request)
    if body.model != state.cluster.gateway.refine_model:
        raise ModelNotFound(f"The model '{body.model}' does not exist on this gateway.", param="model")
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest("stream_options is only allowed when stream is true.", param="stream_options")
    index, text = last_user_text(body.messages)
    check_prompt(state, text, f"messages.{index}.content")
    run_id = new_id("run")
    refinement = await state.refiner.refine(text, run_id, request_id, refine_options(body, request))
    log_refinement(state, "/v1/chat/completions", request_id, refinement)
    headers = {"x-request-id": request_id, "x-mpr-run-id": run_id, "x-mpr-stages": stage_header(refinement)}
    completion_id, created, n = new_id("chatcmpl"), int(time.time()), body.n or 1
    state.metrics.observe_request("/v1/chat/completions", body.model, 200, time.perf_counter() - started)
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        chunks = completion_chunks(completion_id, body.model, created, n, refinement, include_usage)
        headers["cache-control"] = "no-cache"
        return StreamingResponse(sse_from_chunks(chunks), media_type="text/event-stream", headers=headers)
    return JSONResponse(completion_body(completion_id, body.model, created, n, refinement), headers=headers)
