"""The HTTP transport: an OpenAI-compatible target spoken to directly over one pooled aiohttp session.

The relay forwards a request it has already parsed and checked, so the openai SDK's typed request building and
response models (about 1 ms of CPU per call, most of the relay's cost in the profile) buy nothing here. Workers
still go through the SDK (gateway/upstream/workers.py). aiohttp's exceptions become `UpstreamError` here only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp

from config import OpenAITargetConfig
from gateway.errors import FailureKind, UpstreamError, target_failed, target_timeout, target_unavailable
from gateway.upstream.targets.base import JsonDict, error_fields, status_error


def http_status_error(target: str, status: int, body: object) -> UpstreamError:
    """The target answered with an HTTP error status; its error object (vLLM and OpenAI nest it) is passed on."""
    error = body.get("error", body) if isinstance(body, dict) else None
    detail = error.get("message") if isinstance(error, dict) else None
    message = str(detail) if detail else f"HTTP {status}: {str(body)[:200]}"
    return status_error(target, status, message, error_fields(error))


def translate(target: str, timeout_s: float, exc: Exception) -> UpstreamError:
    """aiohttp's exceptions -> UpstreamError; only here."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts (ServerTimeoutError and its kin) subclass it
        return target_timeout(target, timeout_s)
    if isinstance(exc, aiohttp.ClientConnectionError):
        detail = f"connection failed ({exc.__cause__ or exc or type(exc).__name__})"
        return target_unavailable(target, detail, FailureKind.CONNECTION)
    return target_failed(target, f"{type(exc).__name__}: {exc}", FailureKind.PROTOCOL)


def _parsed(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _text(line: bytes | bytearray) -> str:
    return line.decode("utf-8").rstrip("\r")


class SseStream:
    """The SSE `data:` payloads of a streaming response, as they arrive; closing early drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, target: str, timeout_s: float, max_line_bytes: int) -> None:
        self._response = response
        self._target = target
        self._timeout_s = timeout_s
        self._max_line_bytes = max_line_bytes

    def _fits(self, raw: bytes | bytearray) -> bytes | bytearray:
        """`raw`, unless it is longer than one line may be."""
        if len(raw) > self._max_line_bytes:
            detail = f"an SSE line is longer than {self._max_line_bytes} bytes (max_sse_line_bytes)"
            raise target_failed(self._target, detail, FailureKind.PROTOCOL)
        return raw

    async def _lines(self) -> AsyncIterator[str]:
        # Our own line splitting: aiohttp's readline raises LineTooLong past its buffer limit; one event can be
        # bigger. The unfinished line is capped, so a target that never sends a newline cannot grow it for ever.
        tail = bytearray()
        async for data in self._response.content.iter_any():
            first, *lines = data.split(b"\n")
            tail += first
            if lines:
                yield _text(self._fits(tail))
                tail = bytearray(lines.pop())
                for line in lines:
                    yield _text(self._fits(line))
            self._fits(tail)
        if tail:  # the last line without its newline is still a line
            yield _text(tail)

    async def events(self) -> AsyncIterator[str]:
        try:
            async for payload in self._payloads():
                yield payload
        except Exception as exc:
            raise translate(self._target, self._timeout_s, exc) from exc

    async def _payloads(self) -> AsyncIterator[str]:
        done = False
        async for line in self._lines():
            # Blank separators, `:` keep-alives and `event:` lines are not relayed; after [DONE] the body is read
            # to its end, so that the connection goes back to the pool.
            if done or not line.startswith("data:"):
                continue
            payload = line[len("data:") :].strip()
            if payload == "[DONE]":
                done = True
                continue
            yield payload

    async def aclose(self) -> None:
        """Back to the pool when the body was read to its end; otherwise closed, which cancels the target's work."""
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class HttpTarget:
    """One OpenAI-compatible server; the session is made on first use (it needs the running event loop)."""

    def __init__(self, name: str, config: OpenAITargetConfig) -> None:
        self._name = name
        self._config = config
        self.timeout_s = config.timeout_s
        self._url = str(config.base_url).rstrip("/") + "/chat/completions"
        key = config.api_key.get_secret_value() if config.api_key else "EMPTY"
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        # Like the openai client: the limit applies to connecting and to each read, not to a whole stream.
        t = config.timeout_s
        self._timeout = aiohttp.ClientTimeout(total=None, connect=t, sock_connect=t, sock_read=t)
        self._session: aiohttp.ClientSession | None = None
        # Resolved once by config (aiohttp's own trust_env would read the environment on every request).
        self._proxy = str(config.proxy) if config.proxy else None

    def _body(self, body: JsonDict) -> bytes:
        out = {**body, "model": self._config.model}
        wanted = self._config.max_tokens_param
        other = "max_tokens" if wanted == "max_completion_tokens" else "max_completion_tokens"
        if other in out and wanted not in out:
            out[wanted] = out.pop(other)
        return json.dumps(out, ensure_ascii=False).encode("utf-8")

    async def _post(self, body: JsonDict, request_id: str) -> aiohttp.ClientResponse:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, trust_env=False)
        headers = {**self._headers, "X-Request-Id": request_id}
        response = await self._session.post(self._url, data=self._body(body), headers=headers, proxy=self._proxy)
        if response.status >= 400:
            try:
                raw = await response.read()
            finally:
                response.release()
            raise http_status_error(self._name, response.status, _parsed(raw))
        return response

    async def complete(self, body: JsonDict, request_id: str) -> JsonDict:
        try:
            response = await self._post(body, request_id)
            try:
                raw = await response.read()
            finally:
                response.release()
        except Exception as exc:
            raise translate(self._name, self.timeout_s, exc) from exc
        answer = _parsed(raw)
        if not isinstance(answer, dict):
            detail = f"the answer is not a JSON object: {str(answer)[:200]}"
            raise target_failed(self._name, detail, FailureKind.PROTOCOL)
        return answer

    async def open_stream(self, body: JsonDict, request_id: str) -> SseStream:
        try:
            response = await self._post(body, request_id)
        except Exception as exc:
            raise translate(self._name, self.timeout_s, exc) from exc
        return SseStream(response, self._name, self.timeout_s, self._config.max_sse_line_bytes)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            # aiohttp's documented grace period: lets the transports' close callbacks run before the loop ends.
            await asyncio.sleep(0)
