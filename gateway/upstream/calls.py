"""The one call loop for worker and target calls: bounded retries (tenacity), observation and labels."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from config import Tier
from config.cluster import RetryConfig
from gateway.errors import UpstreamError

T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """Where one worker call goes: a worker endpoint and the adapter to select by model name."""

    worker: str
    adapter: str
    tier: Tier
    role: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class Deadline:
    """When a request must be over (the event loop's clock): what is left of it bounds every upstream wait."""

    at: float
    total_s: float

    @classmethod
    def after(cls, seconds: float | None) -> Deadline | None:
        return None if seconds is None else cls(asyncio.get_running_loop().time() + seconds, seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())


class UpstreamKind(StrEnum):
    WORKER = "worker"
    TARGET = "target"


@dataclass(frozen=True)
class Call:
    """One logical upstream call as the observer sees it: a worker route, or a target by name."""

    kind: UpstreamKind
    name: str
    route: Route | None = None


class CallObserver(Protocol):
    """Told about every attempt of every upstream call (the gateway's metrics)."""

    def observe_call(self, call: Call, result: str, seconds: float, usage: Usage | None) -> None: ...


def call_result(error: UpstreamError | None) -> str:
    """The bounded label of an attempt: ok, or the failure kind (timeout, connection, http_4xx, ...)."""
    return "ok" if error is None else error.kind.value


def retrying(config: RetryConfig) -> AsyncRetrying:
    """A fresh retry loop per call: only errors marked retryable at their boundary; the last one re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(config.attempts),
        wait=wait_exponential(multiplier=config.backoff_s, max=1.0),
        retry=retry_if_exception(lambda e: isinstance(e, UpstreamError) and e.retryable),
        reraise=True,
    )


async def call_with_retries(
    call: Call,
    attempt_fn: Callable[[int], Awaitable[T]],
    retry: RetryConfig,
    observer: CallObserver | None,
    usage_of: Callable[[T], Usage | None] | None = None,
) -> tuple[T, int]:
    """Run `attempt_fn(n)` for n = 1, 2, ... until it succeeds or fails for good; return the value and attempts.

    `attempt_fn` raises only `UpstreamError` (its transport maps its own library's exceptions).
    """
    attempts = 0
    async for attempt in retrying(retry):
        with attempt:
            attempts += 1
            value = await _observed(call, attempt_fn, attempts, observer, usage_of)
            return value, attempts
    raise AssertionError("unreachable: tenacity re-raises the last error")


async def _observed(
    call: Call,
    attempt_fn: Callable[[int], Awaitable[T]],
    attempt: int,
    observer: CallObserver | None,
    usage_of: Callable[[T], Usage | None] | None,
) -> T:
    if observer is None:
        return await attempt_fn(attempt)
    started = time.perf_counter()
    result, usage = "cancelled", None
    try:
        value = await attempt_fn(attempt)
        result, usage = "ok", usage_of(value) if usage_of else None
        return value
    except UpstreamError as exc:
        result = call_result(exc)
        raise
    finally:
        observer.observe_call(call, result, time.perf_counter() - started, usage)
