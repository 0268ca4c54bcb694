"""The request body size limit: a pure ASGI middleware (BaseHTTPMiddleware would break streaming)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.http.error_handlers import error_response


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")


class BodySizeLimit:
    """413 before reading when Content-Length is over the limit; a chunked body is counted as it arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await error_response(InvalidRequest("Content-Length is not a number."))(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await error_response(_too_large(self.max_bytes))(scope, receive, send)
                return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Rendered by the app's error handlers (gateway.errors), or below if it escapes them.
                    raise _too_large(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except PayloadTooLarge as exc:
            if started:
                raise
            await error_response(exc)(scope, receive, send)
