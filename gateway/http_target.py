"""An OpenAI-compatible target spoken to directly: the client's JSON forwarded over one pooled aiohttp session.

The relay forwards a request it has already parsed and checked, so the openai SDK's typed request building and
response models (about 1 ms of CPU per call, most of the relay's cost in the profile) buy nothing here. Workers
still go through the SDK (gateway/workers.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from config import OpenAITargetConfig

JsonDict = dict[str, Any]


ErrorFields = tuple[str | None, str | None, str | None]


def error_fields(error: object) -> ErrorFields:
    """The type, code and param of an OpenAI-shaped error object (strings only; anything else is None)."""
    if not isinstance(error, dict):
        return None, None, None
    values = [error.get("type"), error.get("code"), error.get("param")]
    kept = [v if isinstance(v, str) else None for v in values]
    return kept[0], kept[1], kept[2]


class TargetHTTPError(Exception):
    """The target answered with an HTTP error status; `error` is its error object (vLLM and OpenAI nest it)."""

    def __init__(self, status: int, body: object) -> None:
        self.status = status
        self.error = body.get("error", body) if isinstance(body, dict) else None
        detail = self.error.get("message") if isinstance(self.error, dict) else None
        self.message = str(detail) if detail else f"HTTP {status}: {str(body)[:200]}"
        super().__init__(self.message)


class TargetProtocolError(Exception):
    """The target answered 2xx with something that is not an OpenAI response."""


def _parsed(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class SseStream:
    """The SSE `data:` payloads of a streaming response, as they arrive; closing early drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def _lines(self) -> AsyncIterator[str]:
        # Our own line splitting: aiohttp's readline raises LineTooLong past its buffer limit; one event can be bigger.
        tail: list[bytes] = []
        async for data in self._response.content.iter_any():
            if b"\n" not in data:
                tail.append(data)
                continue
            first, *lines = data.split(b"\n")
            lines.insert(0, b"".join([*tail, first]))
            tail = [lines.pop()]
            for line in lines:
                yield line.decode("utf-8").rstrip("\r")

    async def events(self) -> AsyncIterator[str]:
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

    def __init__(self, config: OpenAITargetConfig) -> None:
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
            raise TargetHTTPError(response.status, _parsed(raw))
        return response

    async def complete(self, body: JsonDict, request_id: str) -> JsonDict:
        response = await self._post(body, request_id)
        try:
            raw = await response.read()
        finally:
            response.release()
        answer = _parsed(raw)
        if not isinstance(answer, dict):
            raise TargetProtocolError(f"the answer is not a JSON object: {str(answer)[:200]}")
        return answer

    async def open_stream(self, body: JsonDict, request_id: str) -> SseStream:
        return SseStream(await self._post(body, request_id))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            # aiohttp's documented grace period: lets the transports' close callbacks run before the loop ends.
            await asyncio.sleep(0)


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError)  # aiohttp's timeouts (ServerTimeoutError and its kin) subclass it


def is_connection_failure(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientConnectionError) and not isinstance(exc, aiohttp.ServerTimeoutError)
