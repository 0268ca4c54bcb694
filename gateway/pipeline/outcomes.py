"""Plain data the pipeline makes: the arbiter's decisions, stage reports and the refinement."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from config import StageName, Tier
from gateway.errors import FailureKind
from gateway.upstream.calls import Usage

StageStatus = Literal["ok", "skipped", "fallback", "rejected"]


class ReasonClass(StrEnum):
    """Why a stage ended as it did, as a small bounded set: set where it is decided, read by metrics and logs."""

    SERVED = "served"
    FAILOVER = "failover"
    ARBITER = "arbiter"
    NOT_REQUESTED = "not_requested"
    DISABLED = "disabled"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    CONNECTION = "connection"
    HTTP_ERROR = "http_error"
    PROTOCOL = "protocol"
    INTENT_GUARD = "intent_guard"
    EMPTY_OUTPUT = "empty_output"
    NO_BACKGROUND = "no_background"
    UNGROUNDED = "ungrounded"  # the describer wrote, but no sentence was supported by the passages
    EXTRACTIVE = "extractive"  # the background was taken from the passages, with no describer call


FAILURE_REASONS: dict[FailureKind, ReasonClass] = {
    FailureKind.TIMEOUT: ReasonClass.TIMEOUT,
    FailureKind.CONNECTION: ReasonClass.CONNECTION,
    FailureKind.REJECTED: ReasonClass.HTTP_ERROR,
    FailureKind.SERVER_ERROR: ReasonClass.HTTP_ERROR,
    FailureKind.PROTOCOL: ReasonClass.PROTOCOL,
    FailureKind.UNAVAILABLE: ReasonClass.UNAVAILABLE,
}


@dataclass(frozen=True)
class StageDecision:
    """The arbiter's verdict for one stage (`kind`: why it is skipped, when it is)."""

    run: bool
    reason: str
    kind: ReasonClass = ReasonClass.ARBITER


@dataclass(frozen=True)
class StageReport:
    """How a stage ended, as the client sees it."""

    status: StageStatus
    latency_ms: float
    reason: str
    reason_class: ReasonClass
    worker: str | None = None
    adapter: str | None = None
    tier: Tier | None = None
    attempts: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "reason": self.reason,
            "reason_class": self.reason_class.value,
            "worker": self.worker,
            "adapter": self.adapter,
            "tier": self.tier,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class KnowledgeItem:
    """One background sentence of the refined prompt and, when grounded, the article it comes from."""

    text: str
    source: str | None = None
    score: float | None = None

    def as_dict(self) -> dict[str, object]:
        score = None if self.score is None else round(self.score, 3)
        return {"text": self.text, "source": self.source, "score": score}


@dataclass(frozen=True)
class Refinement:
    """The pipeline's result for one prompt."""

    run_id: str
    original_prompt: str
    cleaned_prompt: str
    refined_prompt: str
    cleaner_output: str | None
    describer_output: str | None
    stages: dict[StageName, StageReport]
    usage: Usage
    latency_ms: float
    knowledge: list[KnowledgeItem] = field(default_factory=list)

    def details(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "refined_prompt": self.refined_prompt,
            "cleaned_prompt": self.cleaned_prompt,
            "original_prompt": self.original_prompt,
            "cleaner_output": self.cleaner_output,
            "describer_output": self.describer_output,
            "knowledge": [item.as_dict() for item in self.knowledge],
            "latency_ms": round(self.latency_ms, 2),
            "stages": {name: report.as_dict() for name, report in self.stages.items()},
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }
