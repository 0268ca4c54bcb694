"""The overall deadline of one request: the configured limit, or less when the client asks for less."""

from __future__ import annotations

from gateway.errors import InvalidRequest

DEADLINE_HEADER = "x-mpr-deadline-ms"


def request_deadline_s(limit_s: float, header: str | None, body_ms: int | None) -> float:
    """Seconds this request may take: min(limit, header `x-mpr-deadline-ms`, body `deadline_ms`)."""
    asked: list[float] = [limit_s]
    if header is not None:
        text = header.strip()
        if not text.isdigit() or int(text) <= 0:
            raise InvalidRequest(f"{DEADLINE_HEADER} must be a positive integer (milliseconds).", param=DEADLINE_HEADER)
        asked.append(int(text) / 1000.0)
    if body_ms is not None:
        if body_ms <= 0:
            raise InvalidRequest("deadline_ms must be a positive integer (milliseconds).", param="deadline_ms")
        asked.append(body_ms / 1000.0)
    return min(asked)
