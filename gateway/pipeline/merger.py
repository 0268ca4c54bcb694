"""Pure merging: intent guards on the cleaner's output, the local fallback, and the background block."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.cluster import MergerConfig
from gateway.lexicon import Lexicon
from gateway.pipeline import guards
from gateway.pipeline.local_cleaner import LocalFix, local_clean

_TAGS = re.compile(r"</?\s*prompt\s*>", re.IGNORECASE)
_LEADING_LABEL = re.compile(
    r"^\s*(corrected( prompt| text| version)?|cleaned( prompt)?|fixed( prompt)?|output|prompt)\s*:\s*",
    re.IGNORECASE,
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


@dataclass(frozen=True)
class Cleaned:
    """The cleaner's half of a merge: the cleaned prompt, the guards' verdict and the local cleaner's pass."""

    prompt: str
    verdict: Verdict | None
    local_fix: LocalFix | None


@dataclass(frozen=True)
class Merged:
    cleaned_prompt: str
    refined_prompt: str
    cleaner: Verdict | None
    describer: Verdict | None
    knowledge: list[str]
    local_fix: LocalFix | None = None


def tidy_stage_output(text: str) -> str:
    """Strip what a stage model wraps around its answer: delimiter tags, a leading label, outer quotes."""
    out = _TAGS.sub("", text).strip()
    out = _LEADING_LABEL.sub("", out, count=1).strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'`":
        out = out[1:-1].strip()
    return out


def judge_cleaned(original: str, candidate: str, config: MergerConfig, lexicon: Lexicon) -> Verdict:
    """Accept the cleaner's text only if it is still the same request, merely corrected.

    The guards run in order and stop at the first problem; the character drift, the costly one, runs once.
    """
    if not candidate:
        return Verdict(False, "empty output")
    problem = (
        guards.leaked_instructions(original, candidate)
        or guards.obeyed_injection(original, candidate)
        or guards.answered(original, candidate)
        or guards.instruction_change(original, candidate, lexicon)
        or guards.length_ratio(original, candidate, config)
        or guards.sentence_change(original, candidate, config)
    )
    if problem:
        return Verdict(False, problem)
    distance = guards.drift(original, candidate)
    problem = guards.char_drift(original, candidate, config, distance) or guards.token_drift(
        original, candidate, config, lexicon
    )
    if problem:
        return Verdict(False, problem)
    if candidate == original.strip():
        return Verdict(True, "unchanged")
    return Verdict(True, f"accepted (drift {distance:.2f})")


def _degenerate(line: str, tokens: list[str], config: MergerConfig, lexicon: Lexicon) -> bool:
    if len(tokens) >= 6 and len(set(tokens)) / len(tokens) < config.knowledge_min_distinct:
        return True
    alphabetic = re.findall(r"\b[a-z]{3,}\b", line)
    if not alphabetic:
        return not tokens
    unknown = sum(1 for t in alphabetic if not lexicon.known(t))
    return unknown / len(alphabetic) > config.knowledge_max_unknown


def _restates(line: str, in_prompt: set[str], config: MergerConfig) -> bool:
    content = guards.content_tokens(line)
    if not content:
        return True
    return sum(1 for t in content if t in in_prompt) / len(content) >= config.knowledge_max_overlap


def _candidate_lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in _SENTENCE_SPLIT.split(tidy_stage_output(text)):
        line = raw.strip(" -*•\t")
        if line and not line.endswith(":"):
            out.append(line)
    # A last sentence without its full stop was cut off by max_tokens: half a fact is not background.
    if out and out[-1][-1] not in ".!?)\"'":
        out.pop()
    return out


def knowledge_lines(prompt: str, text: str, config: MergerConfig, lexicon: Lexicon) -> list[str]:
    """Deduplicated, capped background sentences; degenerate ones and restatements of the prompt dropped."""
    lines: list[str] = []
    kept: list[set[str]] = []
    budget = config.knowledge_max_chars
    in_prompt = set(guards.tokens(prompt))
    for line in _candidate_lines(text):
        tokens = guards.tokens(line)
        words = set(tokens)
        if any(len(words & other) >= 0.8 * max(len(words), len(other)) for other in kept):
            continue
        if _degenerate(line, tokens, config, lexicon) or _restates(line, in_prompt, config):
            continue
        if len(line) > budget:
            break
        kept.append(words)
        lines.append(line)
        budget -= len(line)
        if len(lines) >= config.knowledge_max_lines:
            break
    if lines and not guards.mentions_key_term(prompt, " ".join(lines)):
        return []
    return lines


def _describer_verdict(text: str, knowledge: list[str]) -> Verdict:
    if knowledge:
        return Verdict(True, f"{len(knowledge)} background line(s)")
    if not tidy_stage_output(text):
        return Verdict(False, "empty output")
    return Verdict(False, "no usable background (degenerate, off-topic or restates the prompt)")


def clean_prompt(
    original: str, cleaner_text: str | None, config: MergerConfig, lexicon: Lexicon, cleaner_ran: bool = False
) -> Cleaned:
    """The cleaned prompt on its own (it needs nothing from the describer, so it can be judged as soon as it lands).

    When the cleaner ran but gave nothing usable (it fell back or was rejected), the local cleaner's fix
    of the original is the cleaned prompt; an accepted model correction gets the local cleaner's pass too,
    for the misspellings and sentence starts the model left.
    """
    base = original.strip()
    verdict: Verdict | None = None
    cleaned = base
    if cleaner_text is not None:
        candidate = tidy_stage_output(cleaner_text)
        verdict = judge_cleaned(base, candidate, config, lexicon)
        cleaned = candidate if verdict.accepted else base
    local_fix: LocalFix | None = None
    if verdict is not None and verdict.accepted:
        polish = local_clean(cleaned, lexicon)
        if polish.changed:
            local_fix = polish
            cleaned = polish.text
    elif cleaner_ran or cleaner_text is not None:
        local_fix = local_clean(base, lexicon)
        cleaned = local_fix.text
    return Cleaned(cleaned, verdict, local_fix)


def with_background(cleaned: Cleaned, describer_text: str | None, config: MergerConfig, lexicon: Lexicon) -> Merged:
    """The final prompt: the cleaned prompt followed by a labelled block of the describer's usable lines."""
    describer_verdict: Verdict | None = None
    knowledge: list[str] = []
    if describer_text is not None:
        knowledge = knowledge_lines(cleaned.prompt, describer_text, config, lexicon)
        describer_verdict = _describer_verdict(describer_text, knowledge)
    refined = cleaned.prompt
    if knowledge:
        block = "\n".join(f"- {line}" for line in knowledge)
        refined = f"{cleaned.prompt}\n\n{config.knowledge_label}\n{block}"
    return Merged(cleaned.prompt, refined, cleaned.verdict, describer_verdict, knowledge, cleaned.local_fix)


def merge(
    original: str,
    cleaner_text: str | None,
    describer_text: str | None,
    config: MergerConfig,
    lexicon: Lexicon,
    cleaner_ran: bool = False,
) -> Merged:
    """Both halves at once: `clean_prompt`, then `with_background`."""
    cleaned = clean_prompt(original, cleaner_text, config, lexicon, cleaner_ran)
    return with_background(cleaned, describer_text, config, lexicon)
