"""The OpenAI wire shapes the gateway reads and writes: request bodies and the chat completion responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config import StageName, Tier
from gateway.errors import InvalidRequest
from gateway.pipeline.outcomes import Refinement


def _lone_surrogate_at(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where a string with a lone surrogate (valid JSON, but no Unicode text) sits in a parsed body, if anywhere."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _lone_surrogate_at(item, (*path, str(key)))
        if found is not None:
            return found
    return None


class _TextOnly(BaseModel):
    """The rule for every text field of every body, in one place: a lone surrogate is a 400 naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _no_lone_surrogates(cls, data: Any) -> Any:
        at = _lone_surrogate_at(data)
        if at is not None:
            param = ".".join(at) or None
            # Not a ValueError: it leaves pydantic as it is and is rendered like every InvalidRequest.
            raise InvalidRequest(
                f"'{param}' contains a lone UTF-16 surrogate: it is not valid Unicode text.", param=param
            )
        return data


class ChatBody(_TextOnly):
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


class RefineBody(_TextOnly):
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
