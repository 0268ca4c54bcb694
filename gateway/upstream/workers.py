"""Calls to vLLM workers through the openai client: the one place that maps its exceptions to UpstreamError."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import openai
from openai.types.chat import ChatCompletion

from config import Decoding, WorkerConfig
from config.cluster import RetryConfig
from config.stage_messages import ChatMessage
from gateway.errors import FailureKind, UpstreamError
from gateway.upstream.calls import Call, CallObserver, Route, UpstreamKind, Usage, call_with_retries


def translate_error(worker: str, exc: Exception) -> UpstreamError:
    """openai client errors -> UpstreamError with its kind; only here."""
    if isinstance(exc, openai.APITimeoutError):
        # A hung endpoint would burn the stage's whole budget again: fail over instead of retrying it.
        return _failure(worker, FailureKind.TIMEOUT, "timed out", retryable=False)
    if isinstance(exc, openai.APIConnectionError):
        return _failure(worker, FailureKind.CONNECTION, f"connection failed: {exc.__cause__ or exc}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        kind = FailureKind.REJECTED if status < 500 else FailureKind.SERVER_ERROR
        message = f"HTTP {status}: {exc.message}"
        return _failure(worker, kind, message, retryable=status == 429 or status >= 500, status=status)
    if isinstance(exc, openai.APIError):
        return _failure(worker, FailureKind.PROTOCOL, f"bad response: {exc}", retryable=False)
    return _failure(worker, FailureKind.PROTOCOL, f"{type(exc).__name__}: {exc}", retryable=False)


def _failure(
    worker: str, kind: FailureKind, message: str, *, retryable: bool, status: int | None = None
) -> UpstreamError:
    return UpstreamError(
        f"{worker}: {message}", upstream=worker, kind=kind, retryable=retryable, upstream_status=status
    )


@dataclass(frozen=True)
class WorkerRequest:
    """One worker call: the messages, decoding and the request id the worker will log.

    `timeout_s` bounds each attempt (the gateway's own limit: its expiry is the worker's fault); `budget_s` bounds
    the whole call with its failovers, and `clients_deadline` says that the client's deadline set it.
    """

    messages: list[ChatMessage]
    decoding: Decoding
    request_id: str
    timeout_s: float
    budget_s: float
    clients_deadline: bool = False


class WorkerPool:
    """One shared AsyncOpenAI client per worker endpoint (max_retries=0: retries live in the call loop only)."""

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

    async def chat(self, route: Route, request: WorkerRequest) -> tuple[WorkerReply, int]:
        """Call the route's adapter through the one call loop; return the reply and the attempts it took."""
        call = Call(UpstreamKind.WORKER, route.worker, route)
        reply, attempts = await call_with_retries(
            call, lambda n: self._chat_once(route, request, n), self._retry, self._observer, lambda r: r.usage
        )
        return reply, attempts

    async def _chat_once(self, route: Route, request: WorkerRequest, attempt: int) -> WorkerReply:
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
        timeout = request.timeout_s
        headers = {"X-Request-Id": f"{request.request_id}-a{attempt}"}
        try:
            # The client's documented raw `post`: our body is built from validated config, so the typed
            # `create`'s recursive request transform (a fifth of the call's CPU in the profile) is skipped.
            completion = await client.post(
                "/chat/completions", body=body, cast_to=ChatCompletion, options={"timeout": timeout, "headers": headers}
            )
        except Exception as exc:  # the SDK's errors, and whatever a malformed body makes its parser raise
            raise translate_error(route.worker, exc) from exc
        return _reply(route, completion)

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
        body = {"model": adapter, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "temperature": 0}
        headers = {"X-Request-Id": f"mpr-probe-{uuid.uuid4().hex}"}
        try:
            completion = await self._clients[worker].post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"timeout": timeout_s, "headers": headers},
            )
            _reply(Route(worker, adapter, "small", "probe"), completion)
        except Exception as exc:  # a malformed reply fails the probe like any other error
            return str(translate_error(worker, exc))
        return None


@dataclass(frozen=True)
class WorkerReply:
    """What a worker answered: the text, where it came from, its usage and why it stopped."""

    text: str
    route: Route
    usage: Usage
    finish_reason: str | None = None


def _reply(route: Route, completion: object) -> WorkerReply:
    """The reply of an OpenAI-shaped completion; anything else (a text body, no choices, ...) is a protocol failure."""
    choices = completion.choices if isinstance(completion, ChatCompletion) else None
    message = getattr(choices[0], "message", None) if choices else None
    content = getattr(message, "content", None)
    if message is None or not (content is None or isinstance(content, str)):
        detail = "no choices" if isinstance(completion, ChatCompletion) else f"a {type(completion).__name__} body"
        raise _failure(route.worker, FailureKind.PROTOCOL, f"malformed response: {detail}", retryable=False)
    assert choices is not None and isinstance(completion, ChatCompletion)  # for the type checker
    return WorkerReply(content or "", route, _usage(completion) or Usage(), choices[0].finish_reason)


def _usage(completion: ChatCompletion) -> Usage | None:
    u = completion.usage
    return Usage(u.prompt_tokens, u.completion_tokens) if u is not None else None
