"""The grounded background: retrieval's gate for the describer, its grounding guard and the extractive fallback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.knowledge.linking import Passage
from config.cluster import KnowledgeConfig, MergerConfig
from gateway.pipeline import grounding
from gateway.pipeline.grounding import Grounded
from gateway.pipeline.merger import Cleaned, Merged, Verdict, tidy_stage_output
from gateway.pipeline.outcomes import ReasonClass, StageDecision


def relevant(passages: Sequence[Passage], config: KnowledgeConfig) -> list[Passage]:
    """The retrieved passages that clear the calibrated score, best first (at most `top_k`)."""
    return [p for p in passages if p.score >= config.min_score][: config.top_k]


def describer_decision(passages: Sequence[Passage], config: KnowledgeConfig) -> StageDecision:
    """Run the describer only for an article found above the threshold; extractive-only runs no worker."""
    if not passages:
        return StageDecision(False, f"no background needed: no article scores {config.min_score:g} or more")
    found = ", ".join(f"{p.title} ({p.score:.2f})" for p in passages)
    if config.writer == "extractive":
        return StageDecision(False, f"extractive background from {found}", ReasonClass.EXTRACTIVE)
    return StageDecision(True, f"background from {found}")


def passages_for_describer(passages: Sequence[Passage], config: KnowledgeConfig) -> list[tuple[str, str]]:
    return [(p.title, p.text[: config.max_passage_chars]) for p in passages]


@dataclass(frozen=True)
class GroundedBackground:
    """The kept sentences with their sources, and the describer's verdict (None: it did not write)."""

    sentences: list[Grounded]
    verdict: Verdict | None
    dropped: int


def ground(
    prompt: str, describer_text: str | None, passages: Sequence[Passage], config: KnowledgeConfig
) -> GroundedBackground:
    """The describer's sentences that the passages support; the extractive fallback when none is left."""
    if not passages:
        return GroundedBackground([], None, 0)
    kept: list[Grounded] = []
    dropped = 0
    if describer_text is not None:
        kept, dropped = grounding.keep_supported(tidy_stage_output(describer_text), passages, config.max_sentences)
    if kept:
        return GroundedBackground(kept, Verdict(True, f"{len(kept)} grounded sentence(s), {dropped} dropped"), dropped)
    extracted = grounding.extract(prompt, passages, config.extract_sentences)
    if describer_text is None:
        return GroundedBackground(extracted, None, 0)
    reason = f"no sentence grounded in the passages ({dropped} dropped); extractive background used"
    return GroundedBackground(extracted, Verdict(False, reason, reason_class=ReasonClass.UNGROUNDED), dropped)


def with_grounded_background(
    cleaned: Cleaned,
    background: GroundedBackground,
    merger_config: MergerConfig,
    config: KnowledgeConfig,
) -> Merged:
    """The cleaned prompt and a labelled block of grounded sentences, each naming its article."""
    lines = [g.text for g in background.sentences]
    refined = cleaned.prompt
    if lines:
        block = "\n".join(f"- {g.text} ({config.source_name}: {g.title})" for g in background.sentences)
        refined = f"{cleaned.prompt}\n\n{merger_config.knowledge_label}\n{block}"
    sources = [(g.title, g.score) for g in background.sentences]
    return Merged(cleaned.prompt, refined, cleaned.verdict, background.verdict, lines, cleaned.local_fix, sources)
