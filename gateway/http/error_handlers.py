"""Error rendering, in one place: every typed error leaves the gateway in the OpenAI error envelope."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import GatewayError, InvalidRequest, MethodNotAllowed, RouteNotFound


def error_response(error: GatewayError, headers: dict[str, str] | None = None) -> JSONResponse:
    out = dict(headers or {})
    if error.should_retry is not None:
        out["x-should-retry"] = "true" if error.should_retry else "false"
    return JSONResponse(error.body(), status_code=error.status_code, headers=out)


def _param_of(location: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in location if p not in ("body", "query", "header", "path")]
    return ".".join(parts) if parts else None


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "Invalid request.", None
    first = errors[0]
    param = _param_of(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON.", None
    if param is None and first.get("type") in ("model_attributes_type", "dict_type"):
        return "The request body must be a JSON object.", None
    where = f"'{param}': " if param else ""
    extra = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"Invalid request: {where}{first.get('msg', 'invalid value')}{extra}", param


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the gateway in the OpenAI shape; nothing else renders errors."""

    async def on_gateway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        return error_response(exc, {"x-request-id": getattr(request.state, "request_id", "")})

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = _validation_message(exc)
        return error_response(InvalidRequest(message, param=param))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, GatewayError):  # e.g. the body size limit hit while FastAPI read the body
            return error_response(exc.__cause__)
        if exc.status_code == 404:
            return error_response(RouteNotFound(f"No route for {request.method} {request.url.path}."))
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(f"Method {request.method} is not allowed here."))
        error = InvalidRequest(str(exc.detail))
        error.status_code = exc.status_code
        return error_response(error)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("mpr.gateway").error("unexpected error on %s", request.url.path, exc_info=exc)
        error = GatewayError("The gateway failed unexpectedly; this is a bug.")
        return error_response(error)

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
