"""The grounding guard and the extractive fallback: background sentences that retrieved passages support, only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from symspellpy.editdistance import DistanceAlgorithm, EditDistance

from adapters.knowledge.linking import Passage
from adapters.knowledge.text import STOPWORDS, content_terms, sentences, tokens

# A number as written: digits with optional thousands separators and decimals ("2,000", "105.4", "1815").
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?")
_SUFFIXES = ("'s", "ing", "ed", "es", "s", "ly")
LEAD_BONUS = 0.5  # the first sentence of a summary defines its subject: the best background by default
MIN_SENTENCE_WORDS = 4


@dataclass(frozen=True)
class Grounded:
    """A background sentence and the article it comes from (with the article's retrieval score)."""

    text: str
    title: str
    score: float


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def numbers(text: str) -> set[str]:
    """The numbers of a text, thousands separators removed: "2,000" and "2000" are the same number."""
    return {m.group().replace(",", "") for m in _NUMBER.finditer(text)}


def _words(text: str) -> set[str]:
    return {t for t in tokens(text) if not t[:1].isdigit() and t not in STOPWORDS}


def _supported_by(sentence: str, passage: Passage) -> bool:
    if not numbers(sentence) <= numbers(passage.text):
        return False
    wanted = _words(sentence)
    if not wanted:
        return False
    have = _words(passage.text) | _words(passage.title)
    stems = {_stem(w) for w in have}
    return all(w in have or _stem(w) in stems for w in wanted)


def supported(sentence: str, passages: Sequence[Passage]) -> bool:
    """True when one passage holds every content word of the sentence (inflections allowed) and every number
    exactly; a sentence with nothing to check (no content word) is not supported."""
    return any(_supported_by(sentence, p) for p in passages)


def keep_supported(text: str, passages: Sequence[Passage], limit: int) -> tuple[list[Grounded], int]:
    """The supported sentences of a describer's text (at most `limit`), each with its source; and how many were
    dropped as unsupported."""
    kept: list[Grounded] = []
    dropped = 0
    for sentence in sentences(text):
        source = next((p for p in passages if _supported_by(sentence, p)), None)
        if source is None:
            dropped += 1
        elif len(kept) < limit:
            kept.append(Grounded(sentence, source.title, source.score))
    return kept, dropped


def _overlap(terms: Sequence[str], sentence: str, comparer: EditDistance) -> float:
    """How many prompt terms the sentence contains, a typo ("captial") counting as its word."""
    words = {_stem(w) for w in tokens(sentence)}
    found = 0
    for term in terms:
        stem = _stem(term)
        if stem in words or (len(stem) >= 5 and any(comparer.compare(stem, w, 1) >= 0 for w in words)):
            found += 1
    return float(found)


def extract(prompt: str, passages: Sequence[Passage], max_sentences: int = 2) -> list[Grounded]:
    """The most relevant one or two sentences of the top passage, in their order there (deterministic).

    Each sentence scores the prompt terms it contains, the lead sentence a bonus; ties go to the earlier one; a
    sentence that contains no prompt term is not added just to reach `max_sentences`.
    """
    if not passages or max_sentences < 1:
        return []
    top = passages[0]
    pieces = sentences(top.text)
    candidates = [(i, s) for i, s in enumerate(pieces) if i == 0 or len(s.split()) >= MIN_SENTENCE_WORDS]
    comparer = EditDistance(DistanceAlgorithm.DAMERAU_OSA)
    # The subject's own name ("frane" for France) is in every sentence: it says nothing about relevance.
    title = tokens(top.title)
    terms = [t for t in content_terms(prompt) if not _overlap([t], " ".join(title), comparer)]
    scored = [(_overlap(terms, s, comparer) + (LEAD_BONUS if i == 0 else 0.0), i, s) for i, s in candidates]
    # Only sentences that say something about the prompt (or the lead, which defines the subject) qualify.
    ranked = sorted((item for item in scored if item[0] > 0.0), key=lambda item: (-item[0], item[1]))
    chosen = sorted(ranked[:max_sentences], key=lambda item: item[1])
    return [Grounded(s, top.title, top.score) for _, _, s in chosen]
