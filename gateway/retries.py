"""The retry policy (tenacity) shared by worker and target calls: bounded attempts, capped exponential backoff."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from config.cluster import RetryConfig


def retrying(config: RetryConfig, should_retry: Callable[[BaseException], bool]) -> AsyncRetrying:
    """A fresh retry loop per call; the last error is re-raised as it is."""
    return AsyncRetrying(
        stop=stop_after_attempt(config.attempts),
        wait=wait_exponential(multiplier=config.backoff_s, max=1.0),
        retry=retry_if_exception(should_retry),
        reraise=True,
    )
