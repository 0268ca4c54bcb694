"""Per-request telemetry as a pure ASGI middleware: request metrics, the in-flight gauge, one JSON log line."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.logs import FIELDS, refinement_fields
from gateway.http.state import GatewayState
from gateway.pipeline.outcomes import Refinement

_NOTE = "mpr_note"
_QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics", "/v1/models"})


@dataclass
class RequestNote:
    """What a route learned about its request that the middleware cannot see: the model and the refinement."""

    model: str
    refinement: Refinement | None = None


def note_request(request: Request, model: str, refinement: Refinement | None = None) -> None:
    """Label this request's metrics and log line with its model (and refinement, when the pipeline ran)."""
    request.state.mpr_note = RequestNote(model, refinement)


class RequestTelemetry:
    """Counts and times every HTTP request (4xx/5xx included, streams until their last byte) and logs it.

    A pure ASGI middleware: no BaseHTTPMiddleware, so streaming responses pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = getattr(scope["app"].state, "gateway", None) if scope["type"] == "http" else None
        if gateway is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        gateway.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            gateway.metrics.in_flight.dec()
            _record(gateway, scope, request_state, status, time.perf_counter() - started)


def _record(gateway: GatewayState, scope: Scope, request_state: dict[str, Any], status: int, seconds: float) -> None:
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    note = request_state.get(_NOTE)
    model = note.model if isinstance(note, RequestNote) else "none"
    refinement = note.refinement if isinstance(note, RequestNote) else None
    gateway.metrics.observe_request(route, model, status, seconds)
    if refinement is not None:
        gateway.metrics.observe_refinement(refinement)
    level = logging.DEBUG if route in _QUIET_ROUTES and status < 400 else logging.INFO
    if not gateway.logger.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "event": "request",
        "method": scope["method"],
        "route": route,
        "status": status,
        "model": model,
        "request_id": request_state.get("request_id"),
        "latency_ms": round(seconds * 1000.0, 2),
    }
    if refinement is not None:
        fields.update(refinement_fields(refinement, gateway.cluster.gateway.log_prompts))
    gateway.logger.log(level, "request", extra={FIELDS: fields})
