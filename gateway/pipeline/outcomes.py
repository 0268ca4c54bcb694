"""Plain data passed between the pipeline's parts: decisions, routes, stage results and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from config import StageName, Tier

StageStatus = Literal["ok", "skipped", "fallback", "rejected"]


@dataclass(frozen=True)
class StageDecision:
    """The arbiter's verdict for one stage."""

    run: bool
    reason: str


@dataclass(frozen=True)
class Route:
    """Where one stage call goes: a worker endpoint and the adapter to select by model name."""

    worker: str
    adapter: str
    tier: Tier
    role: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class StageText:
    """What a worker answered for a stage."""

    text: str
    route: Route
    usage: Usage
    finish_reason: str | None = None


@dataclass(frozen=True)
class StageReport:
    """How a stage ended, as the client sees it."""

    status: StageStatus
    latency_ms: float
    reason: str
    worker: str | None = None
    adapter: str | None = None
    tier: Tier | None = None
    attempts: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "reason": self.reason,
            "worker": self.worker,
            "adapter": self.adapter,
            "tier": self.tier,
            "attempts": self.attempts,
        }


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
    knowledge: list[str] = field(default_factory=list)

    def details(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "refined_prompt": self.refined_prompt,
            "cleaned_prompt": self.cleaned_prompt,
            "original_prompt": self.original_prompt,
            "cleaner_output": self.cleaner_output,
            "describer_output": self.describer_output,
            "knowledge": list(self.knowledge),
            "latency_ms": round(self.latency_ms, 2),
            "stages": {name: report.as_dict() for name, report in self.stages.items()},
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }
