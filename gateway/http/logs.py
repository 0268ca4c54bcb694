"""Structured logging: the JSON formatter `mpr serve` installs and the one record written per request."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from gateway.pipeline.outcomes import Refinement

# Attribute of a LogRecord that carries the structured fields (`logger.info(msg, extra={FIELDS: {...}})`).
FIELDS = "mpr"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"), ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send every logger (uvicorn's too) to stderr as JSON lines; called by `mpr serve`, never at import."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx (httpx2 under openai 3) logs every request, probes too, at INFO: the gateway's own line is what counts.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def _stage_fields(refinement: Refinement, with_text: bool) -> dict[str, Any]:
    stages: dict[str, Any] = {}
    for name, report in refinement.stages.items():
        entry: dict[str, Any] = {
            "status": report.status,
            "reason_class": report.reason_class.value,
            "ms": round(report.latency_ms, 2),
        }
        if report.worker is not None:
            entry["worker"] = report.worker
            entry["attempts"] = report.attempts
        if with_text:  # arbiter and guard reasons quote words of the prompt
            entry["reason"] = report.reason
        stages[name] = entry
    return stages


def refinement_fields(refinement: Refinement, with_text: bool) -> dict[str, Any]:
    """The pipeline's part of a request's log record; prompt text only when `with_text`."""
    fields: dict[str, Any] = {
        "run_id": refinement.run_id,
        "refine_ms": round(refinement.latency_ms, 2),
        "stages": _stage_fields(refinement, with_text),
        "tokens": {"in": refinement.usage.prompt_tokens, "out": refinement.usage.completion_tokens},
    }
    if with_text:
        fields["prompt"] = refinement.original_prompt
        fields["refined_prompt"] = refinement.refined_prompt
    return fields
