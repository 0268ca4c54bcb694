"""What the route handlers share: the prompt check, the per-request options and the run headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from config import STAGE_NAMES, StageName
from gateway.errors import InvalidRequest
from gateway.http.deadlines import DEADLINE_HEADER, request_deadline_s
from gateway.http.protocol import ChatBody
from gateway.http.state import GatewayState, gateway_state
from gateway.pipeline.outcomes import Refinement
from gateway.pipeline.refinement import RefineOptions


def check_prompt(state: GatewayState, prompt: str, param: str) -> None:
    if not prompt.strip():
        raise InvalidRequest("The prompt is empty.", param=param)
    limit = state.cluster.gateway.max_prompt_chars
    if len(prompt) > limit:
        raise InvalidRequest(f"The prompt has {len(prompt)} characters; the limit is {limit}.", param=param)


def stage_header(refinement: Refinement | None) -> str:
    """`x-mpr-stages`: each stage's status, or `none` when nothing was refined (relay only)."""
    if refinement is None:
        return "none"
    return ";".join(f"{name}={report.status}" for name, report in refinement.stages.items())


def run_headers(request_id: str, run_id: str, refinement: Refinement | None) -> dict[str, str]:
    """The headers every refine and chat response carries."""
    return {"x-request-id": request_id, "x-mpr-run-id": run_id, "x-mpr-stages": stage_header(refinement)}


def refine_options(body: ChatBody, request: Request) -> RefineOptions:
    """The stages (below) and the deadline: `mpr.deadline_ms` or `x-mpr-deadline-ms`, capped by the config."""
    mpr = (body.model_extra or {}).get("mpr")
    mpr = mpr if isinstance(mpr, dict) else {}
    asked = mpr.get("deadline_ms")
    if asked is not None and (not isinstance(asked, int) or isinstance(asked, bool)):
        raise InvalidRequest("mpr.deadline_ms must be an integer (milliseconds).", param="mpr.deadline_ms")
    limit_s = gateway_state(request).cluster.gateway.request_timeout_s
    deadline_s = request_deadline_s(limit_s, request.headers.get(DEADLINE_HEADER), asked)
    return RefineOptions(stages=_stages(mpr.get("stages"), request), deadline_s=deadline_s)


def _stages(given: Any, request: Request) -> frozenset[StageName] | None:
    """Stages from the `mpr.stages` body field or the `x-mpr-stages` header (`none` turns refinement off)."""
    header = request.headers.get("x-mpr-stages")
    if given is None and header is not None:
        given = [] if header.strip().lower() == "none" else [s.strip() for s in header.split(",") if s.strip()]
    if given is None:
        return None
    if not isinstance(given, list) or any(s not in STAGE_NAMES for s in given):
        raise InvalidRequest(f"stages must be a list drawn from {list(STAGE_NAMES)}.", param="mpr.stages")
    return frozenset(s for s in STAGE_NAMES if s in given)
