"""The OpenAPI document as the gateway really answers: errors in the OpenAI shape, no FastAPI 422s."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "integer", "null"]},
            },
        }
    },
}
_ERROR_RESPONSE = {
    "description": "An error in the OpenAI shape (400, 401, 404, 409, 413, 503, ...).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}},
}
# Routes whose success is not JSON, or whose 503 carries a report rather than an error.
_TEXT_200 = {"/metrics": "text/plain"}
_REPORT_503 = {"/ready"}


def _fix_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    responses["default"] = _ERROR_RESPONSE
    if path in _TEXT_200:
        responses["200"] = {"description": "OK", "content": {_TEXT_200[path]: {"schema": {"type": "string"}}}}
    if path in _REPORT_503:
        responses["503"] = {"description": "Not ready", "content": {"application/json": {"schema": {"type": "object"}}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components["OpenAIError"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            _fix_operation(path, operation)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's generator; the document is built once, on first request."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
