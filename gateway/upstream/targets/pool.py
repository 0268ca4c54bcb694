"""The configured targets by name; every call goes through the one call loop (retried before the first byte)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from config import Cluster, OpenAITargetConfig
from config.cluster import RetryConfig
from gateway.errors import target_timeout
from gateway.upstream.calls import Call, CallObserver, Deadline, UpstreamKind, call_with_retries
from gateway.upstream.targets.base import JsonDict, Target, TargetStream
from gateway.upstream.targets.http_transport import HttpTarget
from gateway.upstream.targets.litellm_transport import LitellmTarget, load_litellm

T = TypeVar("T")


@contextlib.asynccontextmanager
async def _bounded(name: str, deadline: Deadline | None) -> AsyncIterator[None]:
    """What is left of the request's deadline, as the target's timeout (504) when it runs out."""
    if deadline is None:
        yield
        return
    try:
        async with asyncio.timeout(deadline.remaining()):
            yield
    except TimeoutError as exc:
        raise target_timeout(name, deadline.total_s) from exc


class TargetPool:
    """The configured targets by public name; each attempt gets its own `X-Request-Id` (`<id>-target-aN`)."""

    def __init__(self, targets: dict[str, Target], retry: RetryConfig, observer: CallObserver | None = None) -> None:
        self._targets = targets
        self._retry = retry
        self._observer = observer

    @classmethod
    def build(cls, cluster: Cluster, observer: CallObserver | None = None) -> TargetPool:
        """One client per target; litellm is imported only when a litellm target is configured."""
        litellm = None
        targets: dict[str, Target] = {}
        for name, config in cluster.targets.items():
            if isinstance(config, OpenAITargetConfig):
                targets[name] = HttpTarget(name, config)
                continue
            litellm = litellm or load_litellm()
            targets[name] = LitellmTarget(name, config, litellm)
        return cls(targets, cluster.retry, observer)

    @property
    def names(self) -> list[str]:
        return list(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    async def complete(self, name: str, body: JsonDict, request_id: str, deadline: Deadline | None = None) -> JsonDict:
        """The whole answer, within what is left of the request's deadline (retries included)."""
        target = self._targets[name]
        return await self._call(name, lambda rid: target.complete(body, rid), request_id, deadline)

    async def open_stream(
        self, name: str, body: JsonDict, request_id: str, deadline: Deadline | None = None
    ) -> TargetStream:
        """Up to the response headers: retried like `complete`; nothing is retried once it returns."""
        target = self._targets[name]
        return await self._call(name, lambda rid: target.open_stream(body, rid), request_id, deadline)

    async def _call(
        self, name: str, attempt: Callable[[str], Awaitable[T]], request_id: str, deadline: Deadline | None
    ) -> T:
        async with _bounded(name, deadline):
            value, _ = await call_with_retries(
                Call(UpstreamKind.TARGET, name),
                lambda n: attempt(f"{request_id}-target-a{n}"),
                self._retry,
                self._observer,
            )
        return value

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()
