"""Request and run identifiers: taken from the client when given, generated otherwise; on every response."""

from __future__ import annotations

import re
import uuid

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "x-request-id"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _chosen(given: str | None) -> str:
    return given if given is not None and _SAFE_ID.match(given) else new_id("req")


def request_id_of(request: Request) -> str:
    """The request's id, as the middleware chose it (the client's X-Request-Id when it is a sane token)."""
    request_id = getattr(request.state, "request_id", None)
    if not isinstance(request_id, str):
        request_id = _chosen(request.headers.get(HEADER))
        request.state.request_id = request_id
    return request_id


class RequestIds:
    """Pure ASGI middleware, outermost (like vLLM's): every response carries `x-request-id`, errors included.

    The id is chosen once, before any other middleware or route runs, and kept in the request's state.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _chosen(Headers(scope=scope).get(HEADER))
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if HEADER not in headers:
                    headers[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
