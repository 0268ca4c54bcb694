"""Relay to a downstream target: the forwarded request, the answer, and the SSE stream as it arrives."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from gateway.errors import GatewayError, target_timeout
from gateway.http.streaming import DONE, sse_event
from gateway.pipeline.outcomes import Refinement
from gateway.upstream.calls import Deadline
from gateway.upstream.targets.base import TargetStream

JsonDict = dict[str, Any]
# Our own request field; everything else the client sent goes to the target unchanged.
OWN_FIELDS = ("mpr",)


def _replace_text(content: Any, text: str) -> Any:
    """The message content with its text replaced: a string stays a string; a part list keeps its other parts."""
    if isinstance(content, str):
        return text
    parts: list[Any] = []
    placed = False
    for part in content:
        if isinstance(part, dict) and part.get("type") == "text":
            if not placed:
                parts.append({**part, "text": text})
                placed = True
            continue
        parts.append(part)
    return parts


def forwarded_body(body: JsonDict, index: int | None, refinement: Refinement | None) -> JsonDict:
    """The client's request with the refined prompt in place of message `index`, minus our own fields."""
    out = {k: v for k, v in body.items() if k not in OWN_FIELDS}
    if index is None or refinement is None or refinement.refined_prompt == refinement.original_prompt:
        return out
    messages = list(out["messages"])
    message = dict(messages[index])
    message["content"] = _replace_text(message.get("content"), refinement.refined_prompt)
    messages[index] = message
    out["messages"] = messages
    return out


def refinement_details(run_id: str, refinement: Refinement | None) -> JsonDict:
    """The `mpr` extra field: the pipeline's details, or a relay-only marker."""
    if refinement is None:
        return {"run_id": run_id, "relay_only": True, "stages": {}}
    return {**refinement.details(), "relay_only": False}


def answer_body(answer: JsonDict, model: str, details: JsonDict) -> JsonDict:
    """The target's answer unchanged, except `model` (the name the client asked for) and our `mpr` field."""
    return {**answer, "model": model, "mpr": details}


def relay_event(data: str | JsonDict, model: str, include_usage: bool) -> bytes:
    """One upstream SSE payload (raw, or already a chunk) for the client: `model` renamed, `usage: null` added."""
    if isinstance(data, str):
        try:
            chunk = json.loads(data)
        except ValueError:
            return b"data: " + data.encode() + b"\n\n"
    else:
        chunk = data
    if isinstance(chunk, dict) and "error" not in chunk:
        if "model" in chunk:
            chunk["model"] = model
        if include_usage and "usage" not in chunk:
            chunk["usage"] = None
    return sse_event(chunk)


async def _next_event(events: AsyncIterator[str | JsonDict], model: str, deadline: Deadline | None) -> str | JsonDict:
    """The next upstream event, waited for no longer than the request's deadline allows (then a 504-kind error)."""
    if deadline is None:
        return await anext(events)
    try:
        async with asyncio.timeout(deadline.remaining()):
            return await anext(events)
    except TimeoutError as exc:
        raise target_timeout(model, deadline.total_s) from exc


async def relay_stream(
    stream: TargetStream, model: str, include_usage: bool, deadline: Deadline | None = None
) -> AsyncIterator[bytes]:
    """Each upstream event as soon as it arrives, then [DONE]; a failure mid-stream is an error event.

    The transport raises only typed errors; the stream ends by the request's deadline; cancellation (the client
    went away) closes the upstream response, which cancels the target's work.
    """
    events = aiter(stream.events())
    try:
        while True:
            try:
                data = await _next_event(events, model, deadline)
            except StopAsyncIteration:
                break
            yield relay_event(data, model, include_usage)
    except GatewayError as exc:
        yield sse_event(exc.body())
    except Exception as exc:  # a bug: still an error event, never a cut stream
        logging.getLogger("mpr.gateway").error("unexpected error while relaying a stream", exc_info=exc)
        yield sse_event(GatewayError("The gateway failed unexpectedly; this is a bug.").body())
    finally:
        await stream.aclose()
    yield DONE
