"""Idempotency for the routes: run a keyed request once, replay its stored response to every repeat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.deadline import DEADLINE_HEADER, request_deadline_s
from gateway.errors import InvalidRequest
from gateway.idempotency import StoredResponse, fingerprint
from gateway.identity import request_id_of
from gateway.state import gateway_state

KEY_HEADER = "idempotency-key"
REPLAY_HEADER = "x-idempotent-replay"
_KEPT_HEADERS = ("content-type", "x-request-id", "x-mpr-run-id", "x-mpr-stages")
MAX_KEY_CHARS = 200


def header_key(request: Request, stream: bool) -> str | None:
    """The `Idempotency-Key` header, checked; streaming with a key is refused (see docs/architecture.md)."""
    key = request.headers.get(KEY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_CHARS:
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters.", param=KEY_HEADER)
    if stream:
        raise InvalidRequest(
            "Idempotency-Key is not supported with stream: true; send the request without streaming.",
            param="stream",
        )
    return key


def _stored(response: Response) -> StoredResponse:
    if isinstance(response, StreamingResponse) or not isinstance(response, JSONResponse):
        raise TypeError("only complete JSON responses can be stored for an idempotency key")
    headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
    return StoredResponse(response.status_code, bytes(response.body), headers)


async def respond_once(
    request: Request, route: str, key: str, payload: object, produce: Callable[[], Awaitable[Response]]
) -> Response:
    """The response for this key: produced now (once, even under concurrency) or replayed from the store."""
    state = gateway_state(request)
    deadline_s = request_deadline_s(state.cluster.gateway.request_timeout_s, request.headers.get(DEADLINE_HEADER), None)

    async def run() -> StoredResponse:
        return _stored(await produce())

    stored, replay = await state.idempotency.run(f"{route}:{key}", fingerprint(route, payload), deadline_s, run)
    headers = dict(stored.headers)
    headers[REPLAY_HEADER] = "true" if replay else "false"
    if replay:
        headers["x-request-id"] = request_id_of(request)
    return Response(stored.body, status_code=stored.status, headers=headers)
