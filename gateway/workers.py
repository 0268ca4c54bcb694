"""Calls to vLLM workers through the openai client: the one place that translates its errors and retries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx
import openai
from openai.types.chat import ChatCompletion

from adapters.messages import ChatMessage
from config import Decoding, WorkerConfig
from config.cluster import RetryConfig
from gateway import retries
from gateway.pipeline.outcomes import Route, StageText, Usage


class WorkerError(Exception):
    """A worker call that failed; `retryable` says whether the same endpoint may be asked again."""

    def __init__(self, worker: str, kind: str, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(f"{worker}: {message}")
        self.worker = worker
        self.kind = kind
        self.retryable = retryable
        self.status = status


def translate_error(worker: str, exc: Exception) -> WorkerError:
    """openai client errors -> WorkerError; only here."""
    if isinstance(exc, openai.APITimeoutError):
        # A hung endpoint would burn the stage's whole budget again: fail over instead of retrying it.
        return WorkerError(worker, "timeout", "timed out", retryable=False)
    if isinstance(exc, openai.APIConnectionError):
        return WorkerError(worker, "connection", f"connection failed: {exc.__cause__ or exc}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status == 429 or status >= 500
        return WorkerError(worker, "status", f"HTTP {status}: {exc.message}", retryable=retryable, status=status)
    if isinstance(exc, openai.APIError):
        return WorkerError(worker, "protocol", f"bad response: {exc}", retryable=False)
    return WorkerError(worker, "protocol", f"{type(exc).__name__}: {exc}", retryable=False)


class CallObserver(Protocol):
    """Told about every worker call attempt (the gateway's metrics)."""

    def observe_worker_call(self, route: Route, result: str, seconds: float, usage: Usage | None) -> None: ...


def call_result(error: WorkerError) -> str:
    """A bounded label for a failed attempt: timeout, connection, protocol, unavailable, http_4xx, http_5xx."""
    return f"http_{error.status // 100}xx" if error.status is not None else error.kind


@dataclass(frozen=True)
class StageRequest:
    """One stage call: the messages, decoding and the request id the worker will log."""

    messages: list[ChatMessage]
    decoding: Decoding
    request_id: str
    timeout_s: float


class WorkerPool:
    """One shared AsyncOpenAI client per worker endpoint (max_retries=0: retries live in this class only)."""

    def __init__(self, workers: list[WorkerConfig], retry: RetryConfig, observer: CallObserver | None = None) -> None:
        self._retry = retry
        self._observer = observer
        self._workers = {w.name: w for w in workers}
        self._clients = {w.name: self._client(w) for w in workers}
        self._probe = httpx.AsyncClient(timeout=5.0)

    @staticmethod
    def _client(worker: WorkerConfig) -> openai.AsyncOpenAI:
        key = worker.api_key.get_secret_value() if worker.api_key else "EMPTY"
        # Not the SDK's aiohttp transport (DefaultAioHttpClient): it reports a refused connection as a connect
        # timeout, and the retry policy tells the two apart (a timeout fails over, a refusal is retried).
        return openai.AsyncOpenAI(base_url=str(worker.url), api_key=key, max_retries=0, timeout=60.0)

    @property
    def workers(self) -> Mapping[str, WorkerConfig]:
        return self._workers

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        await self._probe.aclose()

    async def chat(self, route: Route, request: StageRequest) -> tuple[StageText, int]:
        """Call the route's adapter; retry retryable errors on the same endpoint; return text and attempts."""
        attempts = 0
        retrying = retries.retrying(self._retry, lambda e: isinstance(e, WorkerError) and e.retryable)
        async for attempt in retrying:
            with attempt:
                attempts += 1
                completion = await self._observed_call(route, request, attempts)
        return _stage_text(route, completion), attempts

    async def _observed_call(self, route: Route, request: StageRequest, attempt: int) -> ChatCompletion:
        if self._observer is None:
            return await self._chat_once(route, request, attempt)
        started = time.perf_counter()
        result, usage = "cancelled", None
        try:
            completion = await self._chat_once(route, request, attempt)
            result, usage = "ok", _usage(completion)
            return completion
        except WorkerError as exc:
            result = call_result(exc)
            raise
        finally:
            self._observer.observe_worker_call(route, result, time.perf_counter() - started, usage)

    async def _chat_once(self, route: Route, request: StageRequest, attempt: int) -> ChatCompletion:
        client = self._clients[route.worker]
        d = request.decoding
        body = {
            "model": route.adapter,
            "messages": request.messages,
            "temperature": d.temperature,
            "top_p": d.top_p,
            "max_tokens": d.max_tokens,
            "presence_penalty": d.presence_penalty,
            "frequency_penalty": d.frequency_penalty,
            "seed": d.seed,
        }
        timeout = min(request.timeout_s, self._retry.attempt_timeout_s or request.timeout_s)
        headers = {"X-Request-Id": f"{request.request_id}-a{attempt}"}
        try:
            # The client's documented raw `post`: our body is built from validated config, so the typed
            # `create`'s recursive request transform (a fifth of the call's CPU in the profile) is skipped.
            return await client.post(
                "/chat/completions", body=body, cast_to=ChatCompletion, options={"timeout": timeout, "headers": headers}
            )
        except openai.OpenAIError as exc:
            raise translate_error(route.worker, exc) from exc

    async def probe_health(self, worker: str, timeout_s: float) -> str | None:
        """GET the worker's /health; None when it answers 200, else the problem."""
        url = self._workers[worker].root_url + "/health"
        try:
            response = await self._probe.get(url, timeout=timeout_s)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None if response.status_code == 200 else f"/health answered {response.status_code}"

    async def probe_adapter(self, worker: str, adapter: str, timeout_s: float) -> str | None:
        """A one-token completion of the adapter (vLLM's /health stays 200 while its engine hangs)."""
        try:
            await self._clients[worker].chat.completions.create(
                model=adapter,
                messages=[{"role": "user", "content": "ping"}],
                max_tokens=1,
                temperature=0.0,
                timeout=timeout_s,
                extra_headers={"X-Request-Id": f"mpr-probe-{uuid.uuid4().hex}"},
            )
        except openai.OpenAIError as exc:
            return str(translate_error(worker, exc))
        return None


def _stage_text(route: Route, completion: ChatCompletion) -> StageText:
    if not completion.choices:
        raise WorkerError(route.worker, "protocol", "response has no choices", retryable=False)
    choice = completion.choices[0]
    return StageText(choice.message.content or "", route, _usage(completion) or Usage(), choice.finish_reason)


def _usage(completion: ChatCompletion) -> Usage | None:
    u = completion.usage
    return Usage(u.prompt_tokens, u.completion_tokens) if u is not None else None
