"""The generation endpoints of the fake vLLM worker: validation, scripted behaviours, JSON and SSE answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from benchmarks.fakes import vllm_protocol as proto
from benchmarks.fakes.vllm_script import Behaviour, Malformed, RecordedRequest

if TYPE_CHECKING:
    from benchmarks.fakes.vllm_server import FakeVllmServer

CLOSE_KEY = "fake_vllm.close"


class _Interrupted(Exception):
    """A scripted wait ended because the fake is stopping or the client went away."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GenerationEndpoint:
    """ASGI endpoint for /v1/chat/completions (kind "chat") or /v1/completions of one fake."""

    def __init__(self, server: FakeVllmServer, kind: proto.Kind) -> None:
        self._server = server
        self._kind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self._kind
        server = self._server
        request = Request(scope, receive)
        rec, denied = await server.record(request)
        if denied is not None:
            await denied(scope, receive, send)
            return
        checked = self._check(kind, rec)
        if isinstance(checked, proto.HttpError):
            await JSONResponse(checked.body, status_code=checked.status)(scope, receive, send)
            return
        body, model, prompt_tokens, limit = checked
        behaviour = self._server.state.pick(model)
        disconnected = asyncio.Event()
        listener = asyncio.create_task(self._listen(receive, disconnected))
        self._server.state.begin(model)
        server.update_running_metric()
        completed = cancelled = False
        try:
            finish = await self._respond(
                kind, scope, receive, send, body, model, prompt_tokens, limit, behaviour, disconnected
            )
            if finish is not None:
                completed = True
                server.metrics.request_finished(finish[0], prompt_tokens, finish[1])
        except _Interrupted as exc:
            cancelled = exc.reason == "disconnected"
            await self._close(scope, disconnected)
        finally:
            listener.cancel()
            self._server.state.end(model, completed=completed, cancelled=cancelled)
            server.update_running_metric()

    def _check(self, kind: proto.Kind, rec: RecordedRequest) -> proto.HttpError | tuple[proto.JsonDict, str, int, int]:
        parsed = proto.parse_request(kind, rec.headers.get("content-type", ""), rec.raw_body)
        if isinstance(parsed, proto.HttpError):
            return parsed
        requested = parsed.get("model")
        adapters = self._server.adapters
        if requested and requested != self._server.base_model and requested not in adapters:
            return proto.HttpError(
                404,
                proto.error_body(
                    f"The model `{requested}` does not exist. Valid aliases: {self._server.base_model}.",
                    "NotFoundError",
                    404,
                    "model",
                ),
            )
        if self._server.state.dead:
            return proto.HttpError(500, proto.error_body(proto.ENGINE_DEAD_MESSAGE, "InternalServerError", 500))
        prompt_tokens = proto.count_prompt_tokens(parsed)
        if prompt_tokens > self._server.max_model_len:
            return proto.HttpError(
                400,
                proto.vllm_validation_error(
                    f"This model's maximum context length is {self._server.max_model_len} tokens. However, your prompt "
                    f"contains {prompt_tokens} input tokens, which exceeds this limit even without any output "
                    "tokens. Please reduce the length of the input prompt.",
                    "input_tokens",
                    prompt_tokens,
                ),
            )
        max_tokens = parsed.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = parsed.get("max_tokens", 16 if kind == "completion" else None)
        limit = self._server.max_model_len - prompt_tokens
        if isinstance(max_tokens, int):
            limit = min(limit, max_tokens)
        if limit < 1:
            return proto.HttpError(
                400, proto.vllm_validation_error(f"max_tokens must be at least 1, got {limit}.", "max_tokens", limit)
            )
        return parsed, str(requested or self._server.base_model), prompt_tokens, limit

    async def _listen(self, receive: Receive, disconnected: asyncio.Event) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    async def _pause(
        self, seconds: float | None, disconnected: asyncio.Event, gate: asyncio.Event | None = None
    ) -> None:
        """Sleep `seconds` (None: forever) or until the gate opens; raise _Interrupted on stop/disconnect."""
        if seconds is not None and seconds <= 0 and gate is None:
            return
        waiters = {
            asyncio.ensure_future(self._server.stopping_event().wait()): "stopping",
            asyncio.ensure_future(disconnected.wait()): "disconnected",
        }
        if gate is not None:
            waiters[asyncio.ensure_future(gate.wait())] = "gate"
        try:
            done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
        reasons = {waiters[t] for t in done}
        for reason in ("stopping", "disconnected"):
            if reason in reasons:
                raise _Interrupted(reason)

    async def _close(self, scope: Scope, disconnected: asyncio.Event) -> None:
        """Close the TCP connection under the request, without a (complete) response."""
        close = scope.get(CLOSE_KEY)
        if close is not None:
            close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(disconnected.wait(), 1.0)

    async def _respond(
        self,
        kind: proto.Kind,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: proto.JsonDict,
        model: str,
        prompt_tokens: int,
        limit: int,
        b: Behaviour,
        disconnected: asyncio.Event,
    ) -> tuple[str, int] | None:
        """Play the behaviour; return (finish_reason, completion_tokens) when answered successfully."""
        if b.gate is not None:
            await self._pause(None, disconnected, self._server.gate_event(b.gate))
        if b.hang:
            await self._pause(None, disconnected)
        await self._pause(b.delay, disconnected)
        headers = dict(b.headers)
        if b.drop:
            await self._close(scope, disconnected)
            return None
        if b.status is not None:
            err = proto.error_body(
                b.error_message or proto.default_error_message(b.status),
                b.error_type or proto.error_type_for_status(b.status),
                b.status,
            )
            await JSONResponse(err, status_code=b.status, headers=headers)(scope, receive, send)
            return None
        if b.malformed is not None:
            await self._malformed(b.malformed, scope, send, model, disconnected)
            return None
        try:
            text = b.reply_text(body)
        except Exception as exc:
            err = proto.error_body(str(exc), "InternalServerError", 500)
            await JSONResponse(err, status_code=500, headers=headers)(scope, receive, send)
            return None
        tokens = proto.tokenize(text)
        if len(tokens) + 1 <= limit:  # the EOS token counts as a generated token
            out, finish, generated = tokens, "stop", len(tokens) + 1
        else:
            out, finish, generated = tokens[:limit], "length", limit
        prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
        base_id = _header(scope, b"x-request-id") or body.get("request_id") or proto.random_uuid()
        request_id = f"{prefix}{base_id}"
        if body.get("stream"):
            ok = await self._stream(
                kind,
                scope,
                send,
                body,
                model,
                prompt_tokens,
                request_id,
                out,
                finish,
                generated,
                b,
                headers,
                disconnected,
            )
            return (finish, generated) if ok else None
        fail_at = b.fail_after_tokens
        await self._pause(b.token_delay * (len(out) if fail_at is None else min(fail_at, len(out))), disconnected)
        if fail_at is not None:
            err = proto.error_body("Internal server error", "InternalServerError", 500)
            await JSONResponse(err, status_code=500, headers=headers)(scope, receive, send)
            return None
        build = proto.chat_response if kind == "chat" else proto.completion_response
        payload = build(request_id, model, "".join(out), finish, prompt_tokens, generated, self._server.fingerprint)
        await JSONResponse(payload, headers=headers)(scope, receive, send)
        return finish, generated

    async def _malformed(
        self, kind: Malformed, scope: Scope, send: Send, model: str, disconnected: asyncio.Event
    ) -> None:
        """A 200 that is not the OpenAI shape, or a body cut off mid-way (the ways a broken worker answers)."""
        bodies = {
            "text_plain": (b"text/plain", b"OK"),
            "invalid_json": (b"application/json", b'{"id": "chatcmpl-1", "choices": [{"index": 0, '),
            "no_choices": (b"application/json", json.dumps({"id": "chatcmpl-1", "model": model}).encode()),
            "truncated": (b"application/json", b'{"id": "chatcmpl-1", "object": "chat.completion", "choi'),
            "reset": (b"application/json", b'{"id": "chatcmpl-1", "object": "chat.completion", "choi'),
        }
        content_type, payload = bodies[kind]
        headers = [(b"content-type", content_type)]
        if kind != "reset":
            length = len(payload) + (1000 if kind == "truncated" else 0)
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        cut = kind in ("truncated", "reset")
        await send({"type": "http.response.body", "body": payload, "more_body": cut})
        if cut:
            await self._close(scope, disconnected)

    async def _stream(
        self,
        kind: proto.Kind,
        scope: Scope,
        send: Send,
        body: proto.JsonDict,
        model: str,
        prompt_tokens: int,
        request_id: str,
        out: list[str],
        finish: str,
        generated: int,
        b: Behaviour,
        headers: dict[str, str],
        disconnected: asyncio.Event,
    ) -> bool:
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        chunks = proto.StreamChunks(
            kind,
            request_id,
            model,
            prompt_tokens,
            include_usage,
            include_usage and bool(options.get("continuous_usage_stats")),
            self._server.fingerprint,
        )
        raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})

        async def emit(data: bytes, more: bool = True) -> None:
            message: Message = {"type": "http.response.body", "body": data, "more_body": more}
            await send(message)
            if more and disconnected.is_set():
                raise _Interrupted("disconnected")

        first = chunks.first()
        if first is not None:
            await emit(first)
        events: list[tuple[str, str | None]] = [(t, None) for t in out]
        if finish == "length" and events:
            events[-1] = (events[-1][0], "length")
        else:
            events.append(("", finish))
        for i, (text, reason) in enumerate(events):
            if b.fail_after_tokens is not None and i >= b.fail_after_tokens:
                if b.fail_mode == "close":
                    raise _Interrupted("dropped")
                await emit(proto.streaming_error())
                await emit(proto.SSE_DONE, more=False)
                return False
            if text:
                await self._pause(b.token_delay, disconnected)
            await emit(chunks.token(text, min(i + 1, generated), reason))
        if include_usage:
            await emit(chunks.usage(generated))
        await emit(proto.SSE_DONE, more=False)
        return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
