"""Request and run identifiers: taken from the client when given, generated otherwise."""

from __future__ import annotations

import re
import uuid

from fastapi import Request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def request_id_of(request: Request) -> str:
    """The client's X-Request-Id when it is a sane token, else a fresh one; stored on request.state."""
    given = request.headers.get("x-request-id", "")
    request_id = given if _SAFE_ID.match(given) else new_id("req")
    request.state.request_id = request_id
    return request_id
