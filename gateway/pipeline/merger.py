"""Pure merging: intent guards on the cleaner's output, the local fallback, and the background block."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from config.cluster import MergerConfig
from gateway.pipeline import guards, word_guards
from gateway.pipeline.adoption import adopted
from gateway.pipeline.guards import GuardKind
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import LocalFix, local_clean
from gateway.pipeline.outcomes import ReasonClass
from gateway.pipeline.word_guards import WordCheck, WordProblem

_TAGS = re.compile(r"</?\s*prompt\s*>", re.IGNORECASE)
_LEADING_LABEL = re.compile(
    r"^\s*(corrected( prompt| text| version)?|cleaned( prompt)?|fixed( prompt)?|output|prompt)\s*:\s*",
    re.IGNORECASE,
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Verdict:
    """Whether the cleaner's output stands; when a guard acted, which one (`kind`) and on which words."""

    accepted: bool
    reason: str
    kind: GuardKind | None = None
    problems: tuple[WordProblem, ...] = ()
    repaired: str | None = None  # the output with offending words put back as typed, when that was enough
    reason_class: ReasonClass = ReasonClass.INTENT_GUARD  # the bounded class a rejection reports


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
    # Each knowledge line's article title and retrieval score (the grounded path only).
    sources: list[tuple[str, float]] = field(default_factory=list)


def tidy_stage_output(text: str) -> str:
    """Strip what a stage model wraps around its answer: delimiter tags, a leading label, outer quotes."""
    out = _TAGS.sub("", text).strip()
    out = _LEADING_LABEL.sub("", out, count=1).strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'`":
        out = out[1:-1].strip()
    return out


def _rejection(original: str, candidate: str, config: MergerConfig, lexicon: Lexicon) -> Verdict | None:
    """The first whole-text guard that fails, in order (cheap ones first)."""
    checks: tuple[tuple[GuardKind, Callable[[], str | None]], ...] = (
        (GuardKind.LEAKED_INSTRUCTIONS, lambda: guards.leaked_instructions(original, candidate)),
        (GuardKind.OBEYED_INJECTION, lambda: guards.obeyed_injection(original, candidate)),
        (GuardKind.ANSWERED, lambda: guards.answered(original, candidate)),
        (GuardKind.INSTRUCTION_CHANGED, lambda: guards.instruction_change(original, candidate, lexicon)),
        (GuardKind.LENGTH_RATIO, lambda: guards.length_ratio(original, candidate, config)),
        (GuardKind.SENTENCE_CHANGE, lambda: guards.sentence_change(original, candidate, config)),
    )
    for kind, check in checks:
        problem = check()
        if problem:
            return Verdict(False, problem, kind)
    return None


def _word_verdict(check: WordCheck) -> Verdict | None:
    """A rejection when the output adds or leaves out words (nothing to put back), else None."""
    if check.repaired is not None:
        return None
    unfixable = [p for p in check.problems if not p.word or not p.replacement] or list(check.problems)
    described = "; ".join(p.describe() for p in unfixable[:3])
    return Verdict(
        False,
        f"added or left out words it cannot put back ({described})",
        GuardKind(unfixable[0].issue.value),
        check.problems,
    )


def judge_cleaned(
    original: str, candidate: str, config: MergerConfig, lexicon: Lexicon, flagged: Mapping[str, str] | None = None
) -> Verdict:
    """Accept the cleaner's text only if it is still the same request, merely corrected.

    `flagged`: the prompt's words the local cleaner finds wrong (each to its fix); a correct word outside it that
    the output replaces, or a replacement too far from its word to fix a slip, is put back as typed (`repaired`).
    The guards run in order and stop at the first problem; the character drift, the costly one, runs once.
    """
    if not candidate:
        return Verdict(False, "empty output", GuardKind.EMPTY, reason_class=ReasonClass.EMPTY_OUTPUT)
    rejected = _rejection(original, candidate, config, lexicon)
    if rejected:
        return rejected
    kept = word_guards.protected_changes(original, candidate)
    if kept:
        return Verdict(
            False, f"changed text it must keep ({kept[0].describe()})", GuardKind.PROTECTED_CHANGED, tuple(kept)
        )
    check = word_guards.check_words(original, candidate, lexicon, flagged or {})
    rejected = _word_verdict(check)
    if rejected:
        return rejected
    text = check.repaired if check.problems and check.repaired is not None else candidate
    distance = guards.drift(original, text)
    problem = guards.char_drift(original, text, config, distance)
    if problem:
        return Verdict(False, problem, GuardKind.DRIFT)
    problem = guards.token_drift(original, text, config, lexicon)
    if problem:
        return Verdict(False, problem, GuardKind.TOKEN_DRIFT)
    if check.problems:
        described = "; ".join(p.describe() for p in check.problems[:3])
        kind = GuardKind(check.problems[0].issue.value)
        return Verdict(
            True, f"accepted with {len(check.problems)} word(s) put back ({described})", kind, check.problems, text
        )
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
        return Verdict(False, "empty output", reason_class=ReasonClass.EMPTY_OUTPUT)
    return Verdict(
        False,
        "no usable background (degenerate, off-topic or restates the prompt)",
        reason_class=ReasonClass.NO_BACKGROUND,
    )


def clean_prompt(
    original: str, cleaner_text: str | None, config: MergerConfig, lexicon: Lexicon, cleaner_ran: bool = False
) -> Cleaned:
    """The cleaned prompt on its own (it needs nothing from the describer, so it can be judged as soon as it lands).

    When the cleaner ran but gave nothing usable (it fell back or was rejected), the local cleaner's fix
    of the original is the cleaned prompt; an accepted model correction gets the local cleaner's pass too,
    for the misspellings and sentence starts the model left (`cleaner_lead: local`: see `_local_led`).
    """
    base = original.strip()
    if cleaner_text is None and not cleaner_ran:
        return Cleaned(base, None, None)
    fallback = local_clean(base, lexicon)  # also what the guards take as the prompt's known errors
    if cleaner_text is None:
        return Cleaned(fallback.text, None, fallback)
    candidate = tidy_stage_output(cleaner_text)
    verdict = judge_cleaned(base, candidate, config, lexicon, fallback.flagged())
    if config.cleaner_lead == "local":
        return _local_led(base, candidate, verdict, fallback, lexicon)
    if not verdict.accepted:
        return Cleaned(fallback.text, verdict, fallback)
    cleaned = verdict.repaired or candidate
    polish = local_clean(cleaned, lexicon)
    return Cleaned(polish.text, verdict, polish) if polish.changed else Cleaned(cleaned, verdict, None)


def _local_led(base: str, candidate: str, verdict: Verdict, fallback: LocalFix, lexicon: Lexicon) -> Cleaned:
    """The local cleaner's text, plus what the model (accepted or rejected alike) fixed word for word that the
    local cleaner could not, and its capitals on multi-word names; its commas, casing and rewordings are left."""
    taken = adopted(base, verdict.repaired or candidate, fallback, lexicon)
    if taken == base:
        return Cleaned(fallback.text, verdict, fallback)
    polish = local_clean(taken, lexicon)
    return Cleaned(polish.text, verdict, polish)


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
