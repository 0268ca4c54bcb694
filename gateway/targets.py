"""Downstream targets: one client per configured model, the one retry layer (before the first byte) and errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import openai

from config import Cluster, OpenAITargetConfig
from config.cluster import RetryConfig
from gateway import http_target, retries
from gateway.errors import (
    GatewayError,
    UpstreamError,
    target_failed,
    target_rejected,
    target_timeout,
    target_unavailable,
)
from gateway.litellm_target import LitellmTarget, load_litellm

T = TypeVar("T")
JsonDict = dict[str, Any]
_RETRY_STATUSES = (429, 502, 503, 504)


class TargetStream(Protocol):
    """An upstream stream whose response headers have arrived: its SSE data payloads (raw, or chunks), then close."""

    def events(self) -> AsyncIterator[str | JsonDict]: ...

    async def aclose(self) -> None: ...


class Target(Protocol):
    """One downstream model; `body` is the client's request (already refined), sent as it is."""

    timeout_s: float

    async def complete(self, body: JsonDict, request_id: str) -> JsonDict: ...

    async def open_stream(self, body: JsonDict, request_id: str) -> TargetStream: ...

    async def aclose(self) -> None: ...


def _status_error(name: str, status: int, detail: str, fields: http_target.ErrorFields) -> GatewayError:
    """A target's 4xx is the client's error, passed on with its own type and code; a 5xx is the target's failure."""
    if 400 <= status < 500:
        return target_rejected(detail, status, *fields)
    if status == 503:
        return target_unavailable(name, f"HTTP 503: {detail}")
    return target_failed(name, f"HTTP {status}: {detail}", should_retry=True)


def translate_target_error(name: str, timeout_s: float, exc: BaseException) -> GatewayError:
    """Direct-target (aiohttp) and litellm (openai-typed) exceptions -> typed gateway errors; only here."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, openai.APITimeoutError) or http_target.is_timeout(exc):
        return target_timeout(name, timeout_s)
    if isinstance(exc, openai.APIConnectionError) or http_target.is_connection_failure(exc):
        return target_unavailable(name, f"connection failed ({exc.__cause__ or exc or type(exc).__name__})")
    if isinstance(exc, http_target.TargetHTTPError):
        return _status_error(name, exc.status, exc.message, http_target.error_fields(exc.error))
    if isinstance(exc, openai.APIStatusError):
        message = exc.body.get("message") if isinstance(exc.body, dict) else None
        detail = str(message) if message else exc.message
        return _status_error(name, exc.status_code, detail, http_target.error_fields(exc.body))
    return target_failed(name, f"{type(exc).__name__}: {exc}", should_retry=False)


def _retryable(exc: BaseException) -> bool:
    """Only errors a repeat can fix, and only those the request never got an answer for (no timeouts)."""
    return isinstance(exc, UpstreamError) and exc.status_code in _RETRY_STATUSES and exc.code != "target_timeout"


class TargetObserver(Protocol):
    """Told about every target call attempt (the gateway's metrics)."""

    def observe_target_call(self, target: str, result: str, seconds: float) -> None: ...


def call_result(error: GatewayError) -> str:
    """A bounded label for a failed attempt."""
    if error.code in ("target_timeout", "target_unavailable"):
        return error.code.removeprefix("target_")
    return "http_4xx" if 400 <= error.status_code < 500 else "failed"


class TargetPool:
    """The configured targets by public name; calls go through `call` (translation and the one retry layer)."""

    def __init__(self, targets: dict[str, Target], retry: RetryConfig, observer: TargetObserver | None = None) -> None:
        self._targets = targets
        self._retry = retry
        self._observer = observer

    @classmethod
    def build(cls, cluster: Cluster, observer: TargetObserver | None = None) -> TargetPool:
        """One client per target; litellm is imported only when a litellm target is configured."""
        litellm = None
        targets: dict[str, Target] = {}
        for name, config in cluster.targets.items():
            if isinstance(config, OpenAITargetConfig):
                targets[name] = http_target.HttpTarget(config)
                continue
            litellm = litellm or load_litellm()
            targets[name] = LitellmTarget(config, litellm)
        return cls(targets, cluster.retry, observer)

    @property
    def names(self) -> list[str]:
        return list(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def translate(self, name: str, exc: BaseException) -> GatewayError:
        return translate_target_error(name, self._targets[name].timeout_s, exc)

    async def complete(self, name: str, body: JsonDict, request_id: str) -> JsonDict:
        target = self._targets[name]
        return await self._call(name, lambda rid: target.complete(body, rid), request_id)

    async def open_stream(self, name: str, body: JsonDict, request_id: str) -> TargetStream:
        """Up to the response headers: retried like `complete`; nothing is retried once it returns."""
        target = self._targets[name]
        return await self._call(name, lambda rid: target.open_stream(body, rid), request_id)

    async def _call(self, name: str, attempt_fn: Callable[[str], Awaitable[T]], request_id: str) -> T:
        retrying = retries.retrying(self._retry, _retryable)
        attempts = 0
        async for attempt in retrying:
            with attempt:
                attempts += 1
                return await self._observed(name, attempt_fn, f"{request_id}-target-a{attempts}")
        raise AssertionError("unreachable: tenacity reraises")

    async def _observed(self, name: str, attempt_fn: Callable[[str], Awaitable[T]], attempt_id: str) -> T:
        started = time.perf_counter()
        result = "cancelled"
        try:
            answer = await attempt_fn(attempt_id)
            result = "ok"
            return answer
        except Exception as exc:
            error = self.translate(name, exc)
            result = call_result(error)
            raise error from exc
        finally:
            if self._observer is not None:
                self._observer.observe_target_call(name, result, time.perf_counter() - started)

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()
