"""What every target transport offers: a completion, a stream opened up to its headers, and close.

A transport raises only `UpstreamError` (from `complete`, `open_stream` and while a stream's events are read):
it maps its own library's exceptions at its boundary, as httpx's transports map httpcore's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from gateway.errors import FailureKind, UpstreamError, target_failed, target_rejected, target_unavailable

JsonDict = dict[str, Any]
ErrorFields = tuple[str | None, str | None, str | None]


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


def error_fields(error: object) -> ErrorFields:
    """The type, code and param of an OpenAI-shaped error object (strings only; anything else is None)."""
    if not isinstance(error, dict):
        return None, None, None
    values = [error.get("type"), error.get("code"), error.get("param")]
    kept = [v if isinstance(v, str) else None for v in values]
    return kept[0], kept[1], kept[2]


def status_error(target: str, status: int, detail: str, fields: ErrorFields) -> UpstreamError:
    """A target's 4xx is the client's error, passed on with its own type and code; a 5xx is the target's failure."""
    if 400 <= status < 500:
        return target_rejected(target, detail, status, *fields)
    if status == 503:
        return target_unavailable(target, f"HTTP 503: {detail}", FailureKind.SERVER_ERROR, status)
    return target_failed(target, f"HTTP {status}: {detail}", FailureKind.SERVER_ERROR, status)
