"""Server-sent events in the OpenAI framing: `data: {json}` events and the closing `data: [DONE]`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from gateway.errors import GatewayError

DONE = b"data: [DONE]\n\n"
# Every error event of ours, and every relayed upstream one, is a one-key object serialised by `sse_event`.
_ERROR_EVENT = b'data: {"error":'


def is_error_event(event: bytes) -> bool:
    return event.startswith(_ERROR_EVENT)


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def sse_from_chunks(chunks: Iterable[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Each chunk as an event, then [DONE]; a failure after the first byte becomes an error event."""
    try:
        for chunk in chunks:
            yield sse_event(chunk)
    except GatewayError as exc:
        yield sse_event(exc.body())
    except Exception:
        yield sse_event(GatewayError("The stream failed inside the gateway.").body())
    yield DONE


def sse_response(
    events: AsyncIterable[bytes], headers: dict[str, str], background: BackgroundTask | None = None
) -> StreamingResponse:
    """An event stream as the OpenAI API sends it: `text/event-stream`, not cached."""
    return StreamingResponse(
        events, media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}, background=background
    )
