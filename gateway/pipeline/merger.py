"""Pure merging: intent guards on the cleaner's output and the labelled, capped knowledge block."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from config.cluster import MergerConfig

_TAGS = re.compile(r"</?\s*prompt\s*>", re.IGNORECASE)
_LEADING_LABEL = re.compile(
    r"^\s*(corrected( prompt| text| version)?|cleaned( prompt)?|fixed( prompt)?|output|prompt)\s*:\s*",
    re.IGNORECASE,
)
_ANSWER_OPENERS = re.compile(
    r"^\s*(sure|certainly|of course|here is|here's|the answer|as an ai|i'm sorry|i cannot|i can't|yes[,.!]|no[,.!])",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(who|what|when|where|why|how|which|is|are|can|could|do|does|did|should|would|will)\b", re.I
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


@dataclass(frozen=True)
class Merged:
    cleaned_prompt: str
    refined_prompt: str
    cleaner: Verdict | None
    describer: Verdict | None
    knowledge: list[str]


def tidy_stage_output(text: str) -> str:
    """Strip what a stage model wraps around its answer: delimiter tags, a leading label, outer quotes."""
    out = _TAGS.sub("", text).strip()
    out = _LEADING_LABEL.sub("", out, count=1).strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'`":
        out = out[1:-1].strip()
    return out


_CHAR_LEVEL_LIMIT = 4000
_STOPWORDS = frozenset(
    "a an the is are was were be been of in on at to for and or but with by as it its this that what who"
    " which when where why how do does did can could should would will i you he she we they".split()
)


def drift(original: str, candidate: str) -> float:
    """0 for the same text, 1 for nothing in common; by characters, or by words for long texts (speed)."""
    a, b = original.lower(), candidate.lower()
    if max(len(a), len(b)) > _CHAR_LEVEL_LIMIT:
        return 1.0 - SequenceMatcher(None, _WORDS.findall(a), _WORDS.findall(b), autojunk=False).ratio()
    if not a and not b:
        return 0.0
    return 1.0 - SequenceMatcher(None, a, b, autojunk=False).ratio()


def _adds_information(line: str, prompt: str) -> bool:
    new = set(_WORDS.findall(line.lower())) - set(_WORDS.findall(prompt.lower())) - _STOPWORDS
    return bool(new)


def _looks_like_answer(original: str, candidate: str) -> bool:
    asked = original.rstrip().endswith("?") or bool(_QUESTION_START.match(original))
    if _ANSWER_OPENERS.match(candidate) and not _ANSWER_OPENERS.match(original):
        return True
    return asked and "?" not in candidate and len(candidate) > 1.3 * len(original)


def judge_cleaned(original: str, candidate: str, config: MergerConfig) -> Verdict:
    """Accept the cleaner's text only if it is still the same request, merely corrected."""
    if not candidate:
        return Verdict(False, "empty output")
    if _looks_like_answer(original, candidate):
        return Verdict(False, "answered the prompt instead of cleaning it")
    ratio = len(candidate) / max(1, len(original))
    if ratio < config.min_length_ratio or ratio > config.max_length_ratio:
        bounds = f"[{config.min_length_ratio}, {config.max_length_ratio}]"
        return Verdict(False, f"length ratio {ratio:.2f} outside {bounds}")
    distance = drift(original, candidate)
    if distance > config.max_drift:
        return Verdict(False, f"drift {distance:.2f} above {config.max_drift}")
    return Verdict(True, "unchanged" if candidate == original.strip() else f"accepted (drift {distance:.2f})")


def knowledge_lines(prompt: str, text: str, config: MergerConfig) -> list[str]:
    """Deduplicated, capped background sentences; restatements of the prompt are dropped."""
    lines: list[str] = []
    seen: set[str] = set()
    budget = config.knowledge_max_chars
    for raw in _SENTENCE_SPLIT.split(tidy_stage_output(text)):
        line = raw.strip(" -*•\t")
        key = " ".join(_WORDS.findall(line.lower()))
        if not key or key in seen:
            continue
        if not _adds_information(line, prompt):
            continue
        if len(line) > budget:
            break
        seen.add(key)
        lines.append(line)
        budget -= len(line)
        if len(lines) >= config.knowledge_max_lines:
            break
    return lines


def merge(original: str, cleaner_text: str | None, describer_text: str | None, config: MergerConfig) -> Merged:
    """The final prompt: the cleaned prompt (or the original) followed by a labelled background block."""
    base = original.strip()
    cleaner_verdict: Verdict | None = None
    cleaned = base
    if cleaner_text is not None:
        candidate = tidy_stage_output(cleaner_text)
        cleaner_verdict = judge_cleaned(base, candidate, config)
        if cleaner_verdict.accepted:
            cleaned = candidate
    describer_verdict: Verdict | None = None
    knowledge: list[str] = []
    if describer_text is not None:
        knowledge = knowledge_lines(cleaned, describer_text, config)
        describer_verdict = (
            Verdict(True, f"{len(knowledge)} background line(s)")
            if knowledge
            else Verdict(False, "no usable background (empty or restates the prompt)")
        )
    refined = cleaned
    if knowledge:
        block = "\n".join(f"- {line}" for line in knowledge)
        refined = f"{cleaned}\n\n{config.knowledge_label}\n{block}"
    return Merged(cleaned, refined, cleaner_verdict, describer_verdict, knowledge)
