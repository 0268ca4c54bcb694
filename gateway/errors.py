"""Typed gateway errors and their one rendering: the OpenAI error envelope."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class GatewayError(Exception):
    """An error the client sees: HTTP status, OpenAI error type, code and offending parameter."""

    status_code = 500
    error_type = "internal_error"
    code: str | None = None
    should_retry: bool | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}


class InvalidRequest(GatewayError):
    status_code = 400
    error_type = "invalid_request_error"
    should_retry = False


class ModelNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"
    should_retry = False


class RouteNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"
    should_retry = False


class MethodNotAllowed(GatewayError):
    status_code = 405
    error_type = "invalid_request_error"
    code = "method_not_allowed"
    should_retry = False


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "payload_too_large"
    should_retry = False


class Unauthorized(GatewayError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"
    should_retry = False


class IdempotencyConflict(GatewayError):
    """The key was used with a different body (or is still running past this request's deadline)."""

    status_code = 409
    error_type = "invalid_request_error"
    code = "idempotency_key_reused"
    should_retry = False


class ServiceUnavailable(GatewayError):
    status_code = 503
    error_type = "service_unavailable"
    code = "service_unavailable"
    should_retry = True


class UpstreamError(GatewayError):
    """A downstream target refused or failed; the status, type and retry advice are the instance's."""

    error_type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.status_code = status
        if error_type is not None:
            self.error_type = error_type
        self.should_retry = should_retry


def target_rejected(
    message: str, status: int, error_type: str | None, code: str | None, param: str | None
) -> UpstreamError:
    """The target's own 4xx: the same status, its message, type and code; a retry helps only for 408/409/429."""
    return UpstreamError(
        message,
        status=status,
        error_type=error_type or "invalid_request_error",
        code=code,
        param=param,
        should_retry=status in (408, 409, 429),
    )


def target_unavailable(target: str, detail: str) -> UpstreamError:
    """The target cannot be reached (connection refused or reset, or it answered 503): a retry may help."""
    return UpstreamError(
        f"The target model '{target}' is unavailable: {detail}",
        status=503,
        code="target_unavailable",
        should_retry=True,
    )


def target_timeout(target: str, timeout_s: float) -> UpstreamError:
    return UpstreamError(
        f"The target model '{target}' did not answer within {timeout_s:g} s.",
        status=504,
        code="target_timeout",
        should_retry=True,
    )


def target_failed(target: str, detail: str, *, should_retry: bool) -> UpstreamError:
    """The target answered with a server error or an unusable response."""
    return UpstreamError(
        f"The target model '{target}' failed: {detail}",
        status=502,
        code="bad_gateway",
        should_retry=should_retry,
    )


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
