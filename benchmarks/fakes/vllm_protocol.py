"""Wire shapes of vLLM 0.32's OpenAI server (bodies, chunks, errors), built as plain dicts."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

VLLM_VERSION = "0.32.0"
SSE_DONE = b"data: [DONE]\n\n"
ENGINE_DEAD_MESSAGE = "EngineCore encountered an issue. See stack trace (above) for the root cause."
FINISH_REASONS = ("stop", "length", "abort", "error", "repetition")

Kind = Literal["chat", "completion"]
JsonDict = dict[str, Any]

_MASK_64_BITS = (1 << 64) - 1
_PROMPT_RE = re.compile(r"<prompt>(.*?)</prompt>", re.DOTALL)
_TOKEN_RE = re.compile(r"\s*\S+")


def random_uuid() -> str:
    """16 hex chars, as vllm.utils.random_uuid."""
    return f"{uuid.uuid4().int & _MASK_64_BITS:016x}"


def system_fingerprint(base_model: str) -> str:
    """`vllm-<version>-<hash8>` as the default `--fingerprint-mode full` (no parallelism)."""
    return f"vllm-{VLLM_VERSION}-{hashlib.sha256(base_model.encode()).hexdigest()[:8]}"


def dumps_compact(obj: Any) -> str:
    """Serialise like pydantic's model_dump_json / Starlette's JSONResponse (compact, UTF-8)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse(obj: Any) -> bytes:
    """One SSE event as vLLM writes it."""
    return f"data: {dumps_compact(obj)}\n\n".encode()


# ---------------------------------------------------------------- errors


def sanitize_message(message: str) -> str:
    """vLLM's sanitize_message: strip addresses, tracebacks and file paths."""
    message = re.sub(r" at 0x[0-9a-fA-F]+>", ">", message)
    message = re.sub(r'\n?\s*File "[^"]+", line \d+, in \S+(\n\s+.*)?', "", message)
    message = re.sub(r"/(?:home|usr|opt|var|tmp|root|lib|mnt|srv)(?:/[\w.\-]+)+", "<path>", message)
    message = re.sub(r"(?:/[\w\-]+)+/[\w\-]+\.\w+", "<path>", message)
    return message.strip()


def error_body(message: str, err_type: str = "BadRequestError", code: int = 400, param: str | None = None) -> JsonDict:
    """vLLM's ErrorResponse: `{"error": {"message", "type", "param", "code"}}`, code an int."""
    return {"error": {"message": sanitize_message(message), "type": err_type, "param": param, "code": code}}


def error_type_for_status(status: int) -> str:
    """The `type` vLLM puts in errors of this status (falls back to the HTTP phrase)."""
    known = {
        400: "BadRequestError",
        404: "NotFoundError",
        422: "UnprocessableEntityError",
        500: "InternalServerError",
        501: "NotImplementedError",
        503: "ServiceUnavailableError",
    }
    if status in known:
        return known[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "InternalServerError"


def default_error_message(status: int) -> str:
    """A plausible vLLM message for a scripted failure of this status."""
    if status == 500:
        return "Internal server error"
    if status == 503:
        return "Request failed; please retry"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def validation_error(param: str | None, detail: str) -> JsonDict:
    """FastAPI RequestValidationError as rendered by vLLM's validation handler."""
    return {
        "error": {
            "message": sanitize_message(f"1 validation error:\n  {detail}"),
            "type": "Bad Request",
            "param": param,
            "code": 400,
        }
    }


def vllm_validation_error(message: str, parameter: str, value: Any = None) -> JsonDict:
    """A VLLMValidationError: message carries `(parameter=..., value=...)`, type BadRequestError."""
    extras = [f"parameter={parameter}"]
    if value is not None:
        extras.append(f"value={value}")
    return error_body(f"{message} ({', '.join(extras)})", "BadRequestError", 400, parameter)


def streaming_error(
    message: str = "Internal server error", code: int = 500, err_type: str = "InternalServerError"
) -> bytes:
    """The mid-stream error event: vLLM uses plain json.dumps here (spaces, ASCII-escaped)."""
    return f"data: {json.dumps(error_body(message, err_type, code))}\n\n".encode()


@dataclass(frozen=True)
class HttpError:
    """A JSON error response to send."""

    status: int
    body: JsonDict


def _summarize(value: Any) -> str:
    if isinstance(value, str):
        return value[:200] + "...[truncated]" if len(value) > 200 else value
    if isinstance(value, (list, tuple, dict)):
        return f"<{type(value).__name__} of {len(value)} items>"
    return str(value)


def parse_request(kind: Kind, content_type: str, raw: bytes) -> JsonDict | HttpError:
    """Body parsing and the request-model checks vLLM/FastAPI do before any model lookup."""
    media = content_type.split(";", 1)[0].strip().lower()
    jsonish = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    parsed: Any = None
    if jsonish and raw:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            detail = (
                f"{{'type': 'json_invalid', 'loc': 'body.{exc.pos}', 'msg': 'JSON decode error', "
                f"'input': '<dict of 0 items>', 'ctx': {{'error': {exc.msg!r}}}}}"
            )
            return HttpError(400, validation_error(f"body.{exc.pos}", detail))
    if media != "application/json":
        return HttpError(400, validation_error(None, "Unsupported Media Type: Only 'application/json' is allowed"))
    if parsed is None:
        return HttpError(
            400,
            validation_error("body", "{'type': 'missing', 'loc': 'body', 'msg': 'Field required', 'input': 'None'}"),
        )
    if not isinstance(parsed, dict):
        return HttpError(
            400,
            validation_error(
                "body",
                "{'type': 'model_attributes_type', 'loc': 'body', 'msg': 'Input should be a valid "
                f"dictionary or object to extract fields from', 'input': '{_summarize(parsed)}'}}",
            ),
        )
    if parsed.get("stream_options") and not parsed.get("stream"):
        return HttpError(
            400, vllm_validation_error("Stream options can only be defined when `stream=True`.", "stream_options")
        )
    if kind == "completion":
        prompt = parsed.get("prompt")
        if prompt is None or prompt == "":
            return HttpError(
                400, vllm_validation_error("Either prompt or prompt_embeds must be provided and non-empty.", "prompt")
            )
    elif "messages" not in parsed:
        return HttpError(
            400,
            validation_error(
                "body.messages",
                "{'type': 'missing', 'loc': 'body.messages', 'msg': 'Field required', "
                f"'input': '{_summarize(parsed)}'}}",
            ),
        )
    return parsed


# ---------------------------------------------------------------- text helpers


def content_text(content: Any) -> str:
    """The text of a message `content` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def prompt_text(body: JsonDict) -> str:
    """All prompt text of a chat or completion request, joined."""
    if "messages" in body:
        msgs = body.get("messages") or []
        return "\n".join(content_text(m.get("content")) for m in msgs if isinstance(m, dict))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        return str(prompt[0])
    return ""


def count_prompt_tokens(body: JsonDict) -> int:
    """Deterministic rough count: whitespace words of all message contents (token ids count as is)."""
    prompt = body.get("prompt")
    if "messages" not in body and isinstance(prompt, list) and prompt and isinstance(prompt[0], int):
        return len(prompt)
    return len(prompt_text(body).split())


def last_user_text(body: JsonDict) -> str:
    """The last user message's text (chat) or the prompt (completion)."""
    if "messages" in body:
        for msg in reversed(body.get("messages") or []):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return content_text(msg.get("content"))
        return ""
    return prompt_text(body)


def extract_prompt(body: JsonDict) -> str:
    """Text between <prompt> and </prompt> of the last user message (or all of it), stripped."""
    text = last_user_text(body)
    match = _PROMPT_RE.search(text)
    return (match.group(1) if match else text).strip()


def correct(text: str) -> str:
    """Light deterministic "correction": collapse whitespace, capitalise, end with a period."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def echo_reply(body: JsonDict) -> str:
    """The default reply: the <prompt>...</prompt> text, lightly corrected."""
    return correct(extract_prompt(body))


def tokenize(text: str) -> list[str]:
    """Split a reply into tokens: words with their leading whitespace."""
    return _TOKEN_RE.findall(text)


# ---------------------------------------------------------------- models


def model_permission() -> JsonDict:
    return {
        "id": f"modelperm-{random_uuid()}",
        "object": "model_permission",
        "created": int(time.time()),
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }


def model_card(model_id: str, root: str, parent: str | None, max_model_len: int | None) -> JsonDict:
    return {
        "id": model_id,
        "object": "model",
        "created": int(time.time()),
        "owned_by": "vllm",
        "root": root,
        "parent": parent,
        "max_model_len": max_model_len,
        "permission": [model_permission()],
    }


def model_list(base: str, base_path: str, max_model_len: int, adapters: dict[str, str]) -> JsonDict:
    """ModelList.model_dump(): base card, then one card per adapter (max_model_len null)."""
    cards = [model_card(base, base_path, None, max_model_len)]
    cards += [model_card(name, path, base, None) for name, path in adapters.items()]
    return {"object": "list", "data": cards}


# ---------------------------------------------------------------- responses


def usage(prompt_tokens: int, completion_tokens: int) -> JsonDict:
    """UsageInfo.model_dump() (non-streaming)."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def _usage_compact(prompt_tokens: int, completion_tokens: int) -> JsonDict:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


def _usage_continuous(prompt_tokens: int, completion_tokens: int) -> JsonDict:
    return {**_usage_compact(prompt_tokens, completion_tokens), "completion_tokens_details": None}


def chat_response(
    request_id: str,
    model: str,
    content: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    fingerprint: str,
) -> JsonDict:
    """ChatCompletionResponse.model_dump() (tool_calls dropped when empty, as 0.32 does)."""
    message = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": None,
    }
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": None,
        "token_ids": None,
        "routed_experts": None,
    }
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": fingerprint,
        "usage": usage(prompt_tokens, completion_tokens),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def completion_response(
    request_id: str,
    model: str,
    text: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    fingerprint: str,
) -> JsonDict:
    """CompletionResponse.model_dump()."""
    choice = {
        "index": 0,
        "text": text,
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": None,
        "token_ids": None,
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "routed_experts": None,
    }
    return {
        "id": request_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": fingerprint,
        "usage": usage(prompt_tokens, completion_tokens),
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


@dataclass
class StreamChunks:
    """Builds the SSE events of one stream (model_dump_json(exclude_unset=True) shapes)."""

    kind: Kind
    request_id: str
    model: str
    prompt_tokens: int
    include_usage: bool
    continuous_usage: bool
    fingerprint: str
    created: int = 0

    def __post_init__(self) -> None:
        self.created = int(time.time())

    def _head(self) -> JsonDict:
        obj = "chat.completion.chunk" if self.kind == "chat" else "text_completion"
        return {"id": self.request_id, "object": obj, "created": self.created, "model": self.model}

    def first(self) -> bytes | None:
        """Chat only: the role chunk with `prompt_token_ids`/`prompt_text` set to null."""
        if self.kind != "chat":
            return None
        chunk = self._head()
        chunk["choices"] = [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ]
        if self.continuous_usage:
            chunk["usage"] = _usage_continuous(self.prompt_tokens, 0)
        chunk["prompt_token_ids"] = None
        chunk["prompt_text"] = None
        return sse(chunk)

    def token(self, text: str, generated: int, finish_reason: str | None) -> bytes:
        """A content chunk; with a finish_reason it is the terminal chunk of the choice."""
        chunk = self._head()
        if self.kind == "chat":
            choice: JsonDict = {
                "index": 0,
                "delta": {"content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            if finish_reason is not None:
                choice["stop_reason"] = None
            choice["token_ids"] = None
        else:
            choice = {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": None,
                "prompt_token_ids": None,
                "token_ids": None,
            }
        chunk["choices"] = [choice]
        if self.continuous_usage:
            chunk["usage"] = (_usage_continuous if self.kind == "chat" else _usage_compact)(
                self.prompt_tokens, generated
            )
        if finish_reason is not None and not self.include_usage:
            chunk["system_fingerprint"] = self.fingerprint
        return sse(chunk)

    def usage(self, completion_tokens: int) -> bytes:
        """The final `choices: []` chunk (exclude_none)."""
        chunk = self._head()
        chunk["choices"] = []
        chunk["usage"] = _usage_compact(self.prompt_tokens, completion_tokens)
        chunk["system_fingerprint"] = self.fingerprint
        return sse(chunk)
