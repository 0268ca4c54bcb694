"""The deterministic fallback cleaner: plain misspellings, contractions and casing, never code, URLs or names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.lexicon import Lexicon
from gateway.pipeline import wording
from gateway.pipeline.arbiter import CONTRACTIONS, SHORTHAND

_QUESTION_START = re.compile(
    r"^(who|what|when|where|why|how|which|whose|whom|is|are|am|was|were|can|could|do|does|did|should|would|will|"
    r"shall|may|might|have|has|had)\b",
    re.IGNORECASE,
)
_MATH = re.compile(r"\d\s*[-+*/=^]|[-+*/=^]\s*\d")
_MAX_CODE_SHARE = 0.5


@dataclass(frozen=True)
class LocalFix:
    """The locally cleaned prompt and what changed."""

    text: str
    words_fixed: tuple[str, ...]
    changed: bool

    def summary(self) -> str:
        if not self.changed:
            return "local cleaner found nothing to fix"
        if not self.words_fixed:
            return "local cleaner fixed casing/punctuation"
        return f"local cleaner fixed {len(self.words_fixed)} word(s): {', '.join(self.words_fixed[:5])}"


def _match_case(source: str, target: str) -> str:
    if source[0].isupper() and not target[0].isupper():
        return target[0].upper() + target[1:]
    return target


def _replacement(word: wording.Word, lexicon: Lexicon, math: bool) -> str | None:
    lower = word.text.lower()
    if word.text == "i":
        return "I"
    if lower in CONTRACTIONS:
        return _match_case(word.text, CONTRACTIONS[lower])
    if lower in SHORTHAND and not math:
        return _match_case(word.text, SHORTHAND[lower])
    if lexicon.known(lower) or len(lower) > 20 or not lower.isalpha():
        return None
    # A capitalised word at a sentence start may be a name: only a one-letter slip is fixed there.
    correction = lexicon.correct(lower, max_distance=1 if word.text[0].isupper() else None)
    return _match_case(word.text, correction) if correction else None


def _fix_words(text: str, lexicon: Lexicon) -> tuple[str, list[str]]:
    math = bool(_MATH.search(text))
    fixed: list[str] = []
    pieces: list[str] = []
    cursor = 0
    for word in wording.words(text):
        if word.protected:
            continue
        replacement = _replacement(word, lexicon, math)
        if replacement is None or replacement == word.text:
            continue
        pieces.append(text[cursor : word.start])
        pieces.append(replacement)
        cursor = word.end
        if word.text != "i":
            fixed.append(f"{word.text}->{replacement}")
    pieces.append(text[cursor:])
    return "".join(pieces), fixed


def _fix_sentence_starts(text: str) -> str:
    out = list(text)
    for word in wording.words(text):
        if word.sentence_start and not word.protected and word.text[0].islower():
            out[word.start] = word.text[0].upper()
    return "".join(out)


def _fix_spacing_and_punctuation(text: str) -> str:
    if wording.protected_spans(text):
        return text  # spacing inside code or quotes is meaningful; leave the prompt's layout alone
    text = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text)
    text = re.sub(r"[ \t]+([,.;:!?])(?=\s|$)", r"\1", text)
    text = re.sub(r"([!?])\1+", r"\1", text)
    return re.sub(r",{2,}", ",", text)


def _final_punctuation(text: str) -> str:
    stripped = text.rstrip()
    if "\n" in stripped or not stripped or not stripped[-1].isalpha() or len(stripped.split()) < 3:
        return text
    last = wording.sentences(stripped)[-1]
    clause = re.split(r"[,;]\s*", last)[-1]
    question = bool(_QUESTION_START.match(last) or _QUESTION_START.match(clause))
    return stripped + ("?" if question else ".")


def local_clean(prompt: str, lexicon: Lexicon) -> LocalFix:
    """Fix what is safe to fix without a model; prompts that are mostly code come back unchanged."""
    if wording.protected_share(prompt) > _MAX_CODE_SHARE:
        return LocalFix(prompt, (), False)
    text, fixed = _fix_words(prompt.strip(), lexicon)
    text = _fix_spacing_and_punctuation(text)
    text = _fix_sentence_starts(text)
    text = _final_punctuation(text)
    return LocalFix(text, tuple(fixed), text != prompt.strip())
