"""The gateway's one error tree: typed errors the client sees, and upstream failures with their kind (an enum)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


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


class AdminForbidden(GatewayError):
    status_code = 403
    error_type = "permission_error"
    code = "admin_from_loopback_only"
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


class FailureKind(StrEnum):
    """How an upstream call failed; set where the failure happens, read by retries, breakers, metrics and logs."""

    TIMEOUT = "timeout"  # no answer within the attempt's time
    CONNECTION = "connection"  # refused, reset or dropped before a whole answer
    REJECTED = "http_4xx"  # the upstream answered with a client-error status
    SERVER_ERROR = "http_5xx"  # the upstream answered with a server-error status
    PROTOCOL = "protocol"  # a 2xx answer that is not the OpenAI shape
    UNAVAILABLE = "unavailable"  # no endpoint could be asked (breakers open, probes failed)


class UpstreamError(GatewayError):
    """A worker or target call that failed, mapped from its transport's own exceptions at that boundary.

    `kind` and `retryable` (may the same endpoint be asked again) drive the one call loop; the status, type, code
    and retry advice are what a client sees when the failure reaches it (a relayed target's error does).
    """

    error_type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        upstream: str,
        kind: FailureKind,
        retryable: bool,
        status: int = 502,
        upstream_status: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.upstream = upstream
        self.kind = kind
        self.retryable = retryable
        self.upstream_status = upstream_status
        self.status_code = status
        if error_type is not None:
            self.error_type = error_type
        self.should_retry = should_retry


def target_rejected(
    target: str, message: str, status: int, error_type: str | None, code: str | None, param: str | None
) -> UpstreamError:
    """The target's own 4xx: the same status, its message, type and code; a retry helps only for 408/409/429."""
    return UpstreamError(
        message,
        upstream=target,
        kind=FailureKind.REJECTED,
        retryable=status == 429,
        status=status,
        upstream_status=status,
        error_type=error_type or "invalid_request_error",
        code=code,
        param=param,
        should_retry=status in (408, 409, 429),
    )


def target_unavailable(target: str, detail: str, kind: FailureKind, status: int | None = None) -> UpstreamError:
    """The target cannot be reached (connection refused or reset, or it answered 503): a retry may help."""
    return UpstreamError(
        f"The target model '{target}' is unavailable: {detail}",
        upstream=target,
        kind=kind,
        retryable=True,
        status=503,
        upstream_status=status,
        code="target_unavailable",
        should_retry=True,
    )


def target_timeout(target: str, timeout_s: float) -> UpstreamError:
    """No answer in time: not retried on the same target (the request's deadline would go to it again)."""
    return UpstreamError(
        f"The target model '{target}' did not answer within {timeout_s:g} s.",
        upstream=target,
        kind=FailureKind.TIMEOUT,
        retryable=False,
        status=504,
        code="target_timeout",
        should_retry=True,
    )


def target_failed(target: str, detail: str, kind: FailureKind, status: int | None = None) -> UpstreamError:
    """The target answered with a server error or an unusable response."""
    return UpstreamError(
        f"The target model '{target}' failed: {detail}",
        upstream=target,
        kind=kind,
        retryable=True,
        status=502,
        upstream_status=status,
        code="bad_gateway",
        should_retry=kind is FailureKind.SERVER_ERROR,
    )
