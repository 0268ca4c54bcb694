"""Idempotency for the routes: run a keyed request once, replay its stored response (or stream) to every repeat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.errors import InvalidRequest
from gateway.http.deadlines import DEADLINE_HEADER, request_deadline_s
from gateway.http.idempotency import Idempotency, Ownership, StoredResponse, fingerprint
from gateway.http.request_ids import request_id_of
from gateway.http.state import gateway_state
from gateway.http.streaming import is_error_event

KEY_HEADER = "idempotency-key"
REPLAY_HEADER = "x-idempotent-replay"
_KEPT_HEADERS = ("content-type", "cache-control", "x-request-id", "x-mpr-run-id", "x-mpr-stages")
MAX_KEY_CHARS = 200


def header_key(request: Request) -> str | None:
    """The `Idempotency-Key` header, checked."""
    key = request.headers.get(KEY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_CHARS:
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters.", param=KEY_HEADER)
    return key


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in _KEPT_HEADERS}


def _stored(response: Response) -> StoredResponse:
    if not isinstance(response, JSONResponse):
        raise TypeError("only JSON responses and streams can be stored for an idempotency key")
    return StoredResponse(response.status_code, bytes(response.body), _kept(response.headers))


class _Recording:
    """A stream as it is sent, kept; stored for the key when it ends whole, released if it fails or is cut off.

    A stream with an error event is not stored: like a failed non-streaming request, a repeat runs it again.
    """

    def __init__(self, owner: Ownership, idempotency: Idempotency, headers: dict[str, str]) -> None:
        self._owner = owner
        self._idempotency = idempotency
        self._headers = headers
        self._settled = False

    async def _settle(self, response: StoredResponse | None) -> None:
        if not self._settled:
            self._settled = True
            await self._idempotency.settle(self._owner, response)

    async def events(self, source: AsyncIterable[str | bytes | memoryview]) -> AsyncIterator[bytes]:
        sent: list[bytes] = []
        failed = False
        async for event in source:
            data = event.encode("utf-8") if isinstance(event, str) else bytes(event)
            failed = failed or is_error_event(data)
            sent.append(data)
            yield data
        # A stream that broke or was cut off never gets here: `release` frees its key when the response ends.
        await self._settle(None if failed else StoredResponse(200, b"".join(sent), self._headers))

    async def release(self) -> None:
        """Called when the response is over, however it ended; shielded, so it also runs under cancellation."""
        await asyncio.shield(self._settle(None))


class _RecordedStream(StreamingResponse):
    """A stream whose key is settled when it ends: stored if `events` finished it whole, else released."""

    def __init__(self, response: StreamingResponse, recording: _Recording) -> None:
        headers = {**response.headers, REPLAY_HEADER: "false"}
        content = recording.events(response.body_iterator)
        super().__init__(content, response.status_code, headers, background=response.background)
        self._recording = recording

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._recording.release()


def _recorded(response: StreamingResponse, owner: Ownership, idempotency: Idempotency) -> StreamingResponse:
    return _RecordedStream(response, _Recording(owner, idempotency, _kept(response.headers)))


async def respond_once(
    request: Request, route: str, key: str, payload: object, produce: Callable[[], Awaitable[Response]]
) -> Response:
    """The response for this key: produced now (once, even under concurrency) or replayed from the store.

    A stream reaches its first caller as it is produced; repeats (waiting ones included) get it whole once it ended.
    """
    state = gateway_state(request)
    deadline_s = request_deadline_s(state.cluster.gateway.request_timeout_s, request.headers.get(DEADLINE_HEADER), None)
    got = await state.idempotency.acquire(f"{route}:{key}", fingerprint(route, payload), deadline_s)
    if isinstance(got, StoredResponse):
        state.metrics.observe_replay(route)
        headers = {**got.headers, REPLAY_HEADER: "true", "x-request-id": request_id_of(request)}
        return Response(got.body, status_code=got.status, headers=headers)
    response = await state.idempotency.owned(got, produce)
    if isinstance(response, StreamingResponse):
        return _recorded(response, got, state.idempotency)
    stored = _stored(response)
    await state.idempotency.settle(got, stored)
    return Response(stored.body, status_code=stored.status, headers={**stored.headers, REPLAY_HEADER: "false"})
