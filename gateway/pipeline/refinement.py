"""The pipeline for one prompt: arbiter, then the needed stages concurrently, then the merger."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.linking import Passage
from config import Cluster, Decoding, StageName, Tier
from config.stage_messages import render_stage_messages
from gateway.pipeline import arbiter, background, merger, routing
from gateway.pipeline.fallback import StageOutcome, run_stage
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import LocalFix
from gateway.pipeline.outcomes import KnowledgeItem, ReasonClass, Refinement, StageDecision, StageReport
from gateway.upstream.breakers import EndpointRegistry
from gateway.upstream.calls import Route, Usage
from gateway.upstream.workers import WorkerPool, WorkerRequest


@dataclass(frozen=True)
class RefineOptions:
    """Per-request choices: limit to some stages (None: all the arbiter wants) and pin a tier."""

    stages: frozenset[StageName] | None = None
    tier: Tier | None = None
    # The request's overall deadline: caps every stage's timeout (stages run concurrently).
    deadline_s: float | None = None


def _skipped(decision: StageDecision) -> StageReport:
    return StageReport(status="skipped", latency_ms=0.0, reason=decision.reason, reason_class=decision.kind)


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
        return replace(report, status="rejected", reason=verdict.reason, reason_class=verdict.reason_class)
    return replace(report, reason=f"{report.reason}; {verdict.reason}")


def _with_extracted(report: StageReport, merged: merger.Merged) -> StageReport:
    """A describer that did not write (skipped for the extractive path, or fell back) still has its background."""
    if report.status == "skipped" and report.reason_class is ReasonClass.EXTRACTIVE:
        return replace(report, status="ok")
    if report.status == "fallback":
        return replace(report, reason=f"{report.reason}; extractive background used")
    return report


def _reports(
    decisions: dict[StageName, StageDecision], by_stage: dict[StageName, StageOutcome], merged: merger.Merged
) -> dict[StageName, StageReport]:
    """Every stage's report, in the arbiter's order: skipped, or its outcome with the merger's verdict."""
    verdicts = {"cleaner": merged.cleaner, "describer": merged.describer}
    reports: dict[StageName, StageReport] = {}
    for name, decision in decisions.items():
        outcome = by_stage.get(name)
        reports[name] = _final_report(outcome, verdicts[name]) if outcome else _skipped(decision)
    if merged.sources and "describer" in reports:
        reports["describer"] = _with_extracted(reports["describer"], merged)
    if "cleaner" in reports:
        reports["cleaner"] = _with_local_fix(reports["cleaner"], merged.local_fix)
    return reports


_Ran = tuple[StageOutcome, merger.Cleaned | None]
_T = TypeVar("_T")
_NOT_ASKED = (ReasonClass.NOT_REQUESTED, ReasonClass.DISABLED)
Decisions = dict[StageName, StageDecision]


class Refiner:
    """Runs the pipeline against the worker pool; holds no per-request state."""

    def __init__(
        self,
        cluster: Cluster,
        pool: WorkerPool,
        registry: EndpointRegistry,
        lexicon: Lexicon,
        knowledge: KnowledgeIndex | None = None,
    ) -> None:
        self._cluster = cluster
        self._pool = pool
        self._registry = registry
        self._lexicon = lexicon
        self._knowledge = knowledge

    async def _cpu(self, prompt: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Pure pipeline work: inline for ordinary prompts, in a worker thread for long ones (the loop stays free)."""
        if len(prompt) > self._cluster.gateway.offload_above_chars:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    async def _passages(
        self, prompt: str, assessment: arbiter.Assessment, decisions: Decisions
    ) -> list[Passage] | None:
        """The passages for a prompt that may need background (None: no knowledge source, the parametric path).

        The describer is then gated on them: it runs only for an article found above the calibrated score.
        """
        config = self._cluster.knowledge
        if self._knowledge is None or config is None:
            return None
        decision = decisions.get("describer")
        if decision is None or decision.kind in _NOT_ASKED or assessment.describer_skip:
            return []
        # SQLite off the event loop; the index corrects typos against its own vocabulary ("frane" -> France).
        found = await asyncio.to_thread(self._knowledge.retrieve, prompt, config.top_k)
        passages = background.relevant(found, config)
        decisions["describer"] = background.describer_decision(passages, config)
        return passages

    def _decisions(self, assessment: arbiter.Assessment, options: RefineOptions) -> dict[StageName, StageDecision]:
        decisions = arbiter.decide(assessment, self._cluster.stages, self._cluster.arbiter)
        if options.stages is not None:
            for name in decisions:
                if name not in options.stages:
                    decisions[name] = StageDecision(False, "not requested", ReasonClass.NOT_REQUESTED)
        return decisions

    def _decoding(self, stage: StageName, prompt: str) -> Decoding:
        decoding = self._cluster.stages[stage].decoding.apply(self._cluster.decoding)
        if stage != "cleaner":
            return decoding
        # The merger rejects a cleaned prompt longer than max_length_ratio x the original, so generating past
        # that only costs time; ~3 characters per token errs on the long side.
        budget = math.ceil(len(prompt) / 3 * self._cluster.merger.max_length_ratio) + 8
        return decoding.model_copy(update={"max_tokens": min(decoding.max_tokens, budget)})

    def _request(
        self, stage: StageName, prompt: str, request_id: str, deadline_s: float | None, passages: list[Passage] | None
    ) -> WorkerRequest:
        config = self._cluster.stages[stage]
        knowledge = self._cluster.knowledge
        given = background.passages_for_describer(passages, knowledge) if passages and knowledge else []
        return WorkerRequest(
            messages=render_stage_messages(config.system_prompt or "", prompt, given if stage == "describer" else ()),
            decoding=self._decoding(stage, prompt),
            request_id=f"{request_id}-{stage}",
            timeout_s=min(config.timeout_s, self._cluster.retry.attempt_timeout_s or config.timeout_s),
            budget_s=min(config.timeout_s, deadline_s or config.timeout_s),
            clients_deadline=deadline_s is not None and deadline_s < config.timeout_s,
        )

    async def _run(self, name: StageName, routes: list[Route], request: WorkerRequest, prompt: str) -> _Ran:
        """One stage; the cleaner's output is judged as soon as it lands (the describer is usually still running)."""
        outcome = await run_stage(name, routes, request, self._pool, self._registry)
        if name != "cleaner":
            return outcome, None
        text = outcome.text.text if outcome.text else None
        return outcome, await self._cpu(
            prompt, merger.clean_prompt, prompt, text, self._cluster.merger, self._lexicon, True
        )

    async def _run_stages(
        self,
        prompt: str,
        decisions: Decisions,
        tier: Tier,
        request_id: str,
        options: RefineOptions,
        passages: list[Passage] | None,
    ) -> tuple[dict[StageName, StageOutcome], merger.Cleaned]:
        views = self._registry.views()
        requests = {
            name: self._request(name, prompt, request_id, options.deadline_s, passages)
            for name, decision in decisions.items()
            if decision.run
        }
        # Stage calls leave one after another (each spends a little CPU before its first byte is sent), so the
        # longest generation, which bounds the pipeline, goes on the wire first.
        running = sorted(requests, key=lambda name: requests[name].decoding.max_tokens, reverse=True)
        results = await asyncio.gather(
            *(self._run(n, routing.plan_routes(self._cluster, n, tier, views), requests[n], prompt) for n in running)
        )
        by_stage = {name: outcome for name, (outcome, _) in zip(running, results, strict=True)}
        cleaned = next((c for _, c in results if c is not None), None)
        if cleaned is None:
            cleaned = await self._cpu(prompt, merger.clean_prompt, prompt, None, self._cluster.merger, self._lexicon)
        return by_stage, cleaned

    async def refine(self, prompt: str, run_id: str, request_id: str, options: RefineOptions) -> Refinement:
        started = time.perf_counter()
        assessment = await self._cpu(prompt, arbiter.assess, prompt, self._lexicon, self._cluster.arbiter)
        decisions = self._decisions(assessment, options)
        passages = await self._passages(prompt, assessment, decisions)
        tier = routing.choose_tier(
            prompt, self._cluster.routing, options.tier, len(assessment.misspelled), assessment.word_count
        )
        by_stage, cleaned = await self._run_stages(prompt, decisions, tier, request_id, options, passages)
        texts = {name: o.text.text if o.text else None for name, o in by_stage.items()}
        merged = await self._cpu(prompt, self._merge, prompt, cleaned, texts.get("describer"), passages)
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
            knowledge=_knowledge_items(merged),
        )

    def _merge(
        self, prompt: str, cleaned: merger.Cleaned, describer: str | None, passages: list[Passage] | None
    ) -> merger.Merged:
        config = self._cluster.knowledge
        if passages is None or config is None:
            return merger.with_background(cleaned, describer, self._cluster.merger, self._lexicon)
        grounded = background.ground(prompt, describer, passages, config)
        return background.with_grounded_background(cleaned, grounded, self._cluster.merger, config)


def _knowledge_items(merged: merger.Merged) -> list[KnowledgeItem]:
    if merged.sources:
        return [
            KnowledgeItem(t, title, score) for t, (title, score) in zip(merged.knowledge, merged.sources, strict=True)
        ]
    return [KnowledgeItem(t) for t in merged.knowledge]
