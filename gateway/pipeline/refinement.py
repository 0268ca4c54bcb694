"""The pipeline for one prompt: arbiter, then the needed stages concurrently, then the merger."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, replace

from adapters.messages import render_stage_messages
from config import Cluster, Decoding, StageName, Tier
from gateway.endpoints import EndpointRegistry
from gateway.lexicon import Lexicon
from gateway.pipeline import arbiter, merger, router
from gateway.pipeline.fallback import StageOutcome, run_stage
from gateway.pipeline.local_cleaner import LocalFix
from gateway.pipeline.outcomes import Refinement, Route, StageDecision, StageReport, Usage
from gateway.workers import StageRequest, WorkerPool


@dataclass(frozen=True)
class RefineOptions:
    """Per-request choices: limit to some stages (None: all the arbiter wants) and pin a tier."""

    stages: frozenset[StageName] | None = None
    tier: Tier | None = None
    # The request's overall deadline: caps every stage's timeout (stages run concurrently).
    deadline_s: float | None = None


def _skipped(reason: str) -> StageReport:
    return StageReport(status="skipped", latency_ms=0.0, reason=reason)


def _with_local_fix(report: StageReport, local_fix: LocalFix | None) -> StageReport:
    """The cleaner keeps its status; the reason says what the local cleaner did (a fix, or a polish of ok output)."""
    if local_fix is None or (report.status == "ok" and not local_fix.changed):
        return report
    return replace(report, reason=f"{report.reason}; {local_fix.summary()}")


def _final_report(outcome: StageOutcome, verdict: merger.Verdict | None) -> StageReport:
    report = outcome.report
    if report.status != "ok" or verdict is None:
        return report
    if not verdict.accepted:
        return replace(report, status="rejected", reason=verdict.reason)
    return replace(report, reason=f"{report.reason}; {verdict.reason}")


def _reports(
    decisions: dict[StageName, StageDecision], by_stage: dict[StageName, StageOutcome], merged: merger.Merged
) -> dict[StageName, StageReport]:
    """Every stage's report, in the arbiter's order: skipped, or its outcome with the merger's verdict."""
    verdicts = {"cleaner": merged.cleaner, "describer": merged.describer}
    reports: dict[StageName, StageReport] = {}
    for name, decision in decisions.items():
        outcome = by_stage.get(name)
        reports[name] = _final_report(outcome, verdicts[name]) if outcome else _skipped(decision.reason)
    if "cleaner" in reports:
        reports["cleaner"] = _with_local_fix(reports["cleaner"], merged.local_fix)
    return reports


_Ran = tuple[StageOutcome, merger.Cleaned | None]
Decisions = dict[StageName, StageDecision]


class Refiner:
    """Runs the pipeline against the worker pool; holds no per-request state."""

    def __init__(self, cluster: Cluster, pool: WorkerPool, registry: EndpointRegistry, lexicon: Lexicon) -> None:
        self._cluster = cluster
        self._pool = pool
        self._registry = registry
        self._lexicon = lexicon

    def _decisions(self, assessment: arbiter.Assessment, options: RefineOptions) -> dict[StageName, StageDecision]:
        decisions = arbiter.decide(assessment, self._cluster.stages, self._cluster.arbiter)
        if options.stages is not None:
            for name in decisions:
                if name not in options.stages:
                    decisions[name] = StageDecision(False, "not requested")
        return decisions

    def _decoding(self, stage: StageName, prompt: str) -> Decoding:
        decoding = self._cluster.stages[stage].decoding.apply(self._cluster.decoding)
        if stage != "cleaner":
            return decoding
        # The merger rejects a cleaned prompt longer than max_length_ratio x the original, so generating past
        # that only costs time; ~3 characters per token errs on the long side.
        budget = math.ceil(len(prompt) / 3 * self._cluster.merger.max_length_ratio) + 8
        return decoding.model_copy(update={"max_tokens": min(decoding.max_tokens, budget)})

    def _request(self, stage: StageName, prompt: str, request_id: str, deadline_s: float | None) -> StageRequest:
        config = self._cluster.stages[stage]
        return StageRequest(
            messages=render_stage_messages(config.system_prompt or "", prompt),
            decoding=self._decoding(stage, prompt),
            request_id=f"{request_id}-{stage}",
            timeout_s=min(config.timeout_s, deadline_s or config.timeout_s),
        )

    async def _run(self, name: StageName, routes: list[Route], request: StageRequest, prompt: str) -> _Ran:
        """One stage; the cleaner's output is judged as soon as it lands (the describer is usually still running)."""
        outcome = await run_stage(name, routes, request, self._pool, self._registry)
        if name != "cleaner":
            return outcome, None
        text = outcome.text.text if outcome.text else None
        return outcome, merger.clean_prompt(prompt, text, self._cluster.merger, self._lexicon, cleaner_ran=True)

    async def _run_stages(
        self, prompt: str, decisions: Decisions, tier: Tier, request_id: str, options: RefineOptions
    ) -> tuple[dict[StageName, StageOutcome], merger.Cleaned]:
        views = self._registry.views()
        requests = {
            name: self._request(name, prompt, request_id, options.deadline_s)
            for name, decision in decisions.items()
            if decision.run
        }
        # Stage calls leave one after another (each spends a little CPU before its first byte is sent), so the
        # longest generation, which bounds the pipeline, goes on the wire first.
        running = sorted(requests, key=lambda name: requests[name].decoding.max_tokens, reverse=True)
        results = await asyncio.gather(
            *(self._run(n, router.plan_routes(self._cluster, n, tier, views), requests[n], prompt) for n in running)
        )
        by_stage = {name: outcome for name, (outcome, _) in zip(running, results, strict=True)}
        cleaned = next((c for _, c in results if c is not None), None)
        if cleaned is None:
            cleaned = merger.clean_prompt(prompt, None, self._cluster.merger, self._lexicon)
        return by_stage, cleaned

    async def refine(self, prompt: str, run_id: str, request_id: str, options: RefineOptions) -> Refinement:
        started = time.perf_counter()
        assessment = arbiter.assess(prompt, self._lexicon, self._cluster.arbiter)
        decisions = self._decisions(assessment, options)
        tier = router.choose_tier(
            prompt, self._cluster.routing, options.tier, len(assessment.misspelled), assessment.word_count
        )
        by_stage, cleaned = await self._run_stages(prompt, decisions, tier, request_id, options)
        texts = {name: o.text.text if o.text else None for name, o in by_stage.items()}
        merged = merger.with_background(cleaned, texts.get("describer"), self._cluster.merger, self._lexicon)
        usage = sum((o.text.usage for o in by_stage.values() if o.text), Usage())
        return Refinement(
            run_id=run_id,
            original_prompt=prompt,
            cleaned_prompt=merged.cleaned_prompt,
            refined_prompt=merged.refined_prompt,
            cleaner_output=texts.get("cleaner"),
            describer_output=texts.get("describer"),
            stages=_reports(decisions, by_stage, merged),
            usage=usage,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            knowledge=merged.knowledge,
        )
