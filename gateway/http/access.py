"""Client API keys: a pure ASGI middleware that answers 401 before any route (so any worker) runs."""

from __future__ import annotations

import hashlib
import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from config.cluster import AuthConfig
from gateway.errors import Unauthorized
from gateway.http.error_handlers import error_response

OPEN_PATHS = frozenset({"/health"})


class ClientKeys:
    """The accepted keys as sha256 digests; a presented key is hashed and compared in constant time."""

    def __init__(self, config: AuthConfig) -> None:
        plain = [hashlib.sha256(k.get_secret_value().encode("utf-8")).digest() for k in config.keys]
        self._digests = plain + [bytes.fromhex(h) for h in config.key_sha256]
        self._open = set(OPEN_PATHS)
        if not config.protect_ready:
            self._open.add("/ready")
        if not config.protect_metrics:
            self._open.add("/metrics")

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def protects(self, path: str) -> bool:
        return self.enabled and path not in self._open

    def accepts(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        matched = False
        for digest in self._digests:  # no early exit: the time does not depend on which key matched
            matched |= hmac.compare_digest(digest, presented)
        return matched


class RequireClientKey:
    """401 in the OpenAI error shape for a protected path without a valid `Authorization: Bearer` key."""

    def __init__(self, app: ASGIApp, keys: ClientKeys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys.protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization")
        if self.keys.accepts(authorization):
            await self.app(scope, receive, send)
            return
        message = "Missing API key: send 'Authorization: Bearer <key>'."
        if authorization:
            message = "Invalid API key."
        response = error_response(Unauthorized(message), {"www-authenticate": "Bearer"})
        await response(scope, receive, send)
