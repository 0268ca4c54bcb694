"""Entity linking and the retrieval score, as pure functions over what the index looked up for one prompt.

The score of an article is the prompt's *coverage*: the IDF-weighted share of the prompt's content words the
article accounts for — through the name the prompt links it by (full credit), its title (0.9) or its text
(0.75) — times the prompt's need for background (0 for tasks on given text, arithmetic, code, chit-chat).
A word fixed from a typo counts by how close it was. A name in no article leaves its words uncovered, so
"who is quintar malveen" stays low however many articles mention "who"; one calibrated threshold separates.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice, product

from adapters.knowledge.text import STOPWORDS, content_terms, tokens

NAME_CREDIT = 1.0
TITLE_CREDIT = 0.9
TEXT_CREDIT = 0.75
NAME_WEIGHT = 2.0
MAX_FORMS = 4  # spellings tried per prompt word
MAX_COMBINATIONS = 16  # spellings tried per span of words
_NAME_OPENERS = frozenset({"the", "a", "an"})  # "A Midsummer Night's Dream"
BM25_TERMS = 6  # spellings in one BM25 query
PROMPT_TOKENS = 64  # only the prompt's head is linked (a long prompt's head is representative)


class Match(StrEnum):
    """How a passage was found: the prompt names its article (title or alias), or only its text matches."""

    TITLE = "title"
    ALIAS = "alias"
    TEXT = "text"


@dataclass(frozen=True)
class Passage:
    """One retrieved article summary with its score in [0, 1]."""

    title: str
    text: str
    score: float
    match: Match


@dataclass(frozen=True)
class Form:
    """A way a prompt word may be written in the corpus, with how much it is trusted (1.0: as typed)."""

    word: str
    quality: float


@dataclass
class PromptWords:
    """The prompt's tokens and, for each, its candidate spellings in the corpus; content terms with weights."""

    tokens: list[str]
    terms: list[str]
    forms: dict[str, list[Form]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class NameHit:
    """A span of the prompt that spells a name of an article."""

    article: int
    kind: Match
    start: int
    end: int
    qualities: tuple[float, ...]  # per token of the span

    @property
    def quality(self) -> float:
        return sum(self.qualities) / len(self.qualities)


def prompt_words(prompt: str) -> PromptWords:
    head = tokens(prompt)[:PROMPT_TOKENS]
    return PromptWords(head, content_terms(" ".join(head)))


def idf(df: int, articles: int) -> float:
    return math.log(1.0 + (articles - df + 0.5) / (df + 0.5))


def span_keys(words: PromptWords, max_tokens: int) -> Iterator[tuple[str, int, int, tuple[float, ...]]]:
    """(name key, start, end, per-token quality) for every span that could spell a name."""
    toks = words.tokens
    for start in range(len(toks)):
        if toks[start] in STOPWORDS and toks[start] not in _NAME_OPENERS:
            continue
        for end in range(start + 1, min(len(toks), start + max_tokens) + 1):
            # A name may end in a stopword only after a word of its own ("Clovis I", not "I").
            if toks[end - 1] in STOPWORDS and end - start < 2:
                continue
            choices = [words.forms.get(t) or [Form(t, 1.0)] for t in toks[start:end]]
            for combo in islice(product(*choices), MAX_COMBINATIONS):
                yield " ".join(f.word for f in combo), start, end, tuple(f.quality for f in combo)


def best_hits(hits: Sequence[NameHit]) -> list[NameHit]:
    """One hit per article (longest, then closest spelling); a name inside a longer linked name is dropped."""
    ranked = sorted(hits, key=lambda h: (-(h.end - h.start), -h.quality, h.kind != Match.TITLE, h.article))
    kept: list[NameHit] = []
    for hit in ranked:
        if any(k.article == hit.article for k in kept):
            continue
        inside = any(
            k.start <= hit.start and hit.end <= k.end and (k.end - k.start) > (hit.end - hit.start) for k in kept
        )
        if not inside:
            kept.append(hit)
    return kept


def _term_credit(term: str, forms: Sequence[Form], title: set[str], text: set[str]) -> float:
    best = 0.0
    for form in forms or [Form(term, 1.0)]:
        if form.word in title:
            best = max(best, form.quality * TITLE_CREDIT)
        elif form.word in text:
            best = max(best, form.quality * TEXT_CREDIT)
    return best


def coverage(words: PromptWords, title: str, text: str, hit: NameHit | None) -> float:
    """IDF-weighted share of the prompt's content terms this article accounts for, in [0, 1].

    The words of the name the prompt links the article by weigh NAME_WEIGHT times more: the entity is what the
    prompt is about; the rest ("start", "painted") only says what about it. So does a word that no article has
    and no spelling reaches: most likely the name of something the index does not know ("the drufwick
    theorem" is not about Theorem).
    """
    named: dict[str, float] = {}
    if hit is not None:
        for token, quality in zip(words.tokens[hit.start : hit.end], hit.qualities, strict=True):
            named[token] = max(named.get(token, 0.0), quality * NAME_CREDIT)
    title_tokens, text_tokens = set(tokens(title)), set(tokens(text))
    got = total = 0.0
    for term in words.terms:
        unknown = not words.forms.get(term)
        weight = words.weights.get(term, 0.0) * (NAME_WEIGHT if term in named or unknown else 1.0)
        credit = named.get(term) or _term_credit(term, words.forms.get(term, []), title_tokens, text_tokens)
        got += weight * credit
        total += weight
    return got / total if total > 0.0 else 0.0


def search_terms(words: PromptWords, dfs: Mapping[str, int], articles: int) -> list[str]:
    """The spellings to run BM25 with: the rarest few; very common words are dropped (they still count in
    coverage) since their long posting lists cost the most and rank the least."""
    common = max(2000, articles // 50)
    spellings = {f.word for t in words.terms for f in words.forms.get(t, [])}
    rare = sorted((w for w in spellings if dfs.get(w, 0) > 0), key=lambda w: (dfs.get(w, 0), w))
    kept = [w for w in rare if dfs.get(w, 0) <= common]
    return (kept or rare[:2])[:BM25_TERMS]


def rank(candidates: Sequence[Passage], limit: int) -> list[Passage]:
    named = {Match.TITLE: 0, Match.ALIAS: 1, Match.TEXT: 2}
    # Entities the prompt names come first, then articles whose text matches; best score first within each.
    ordered = sorted(candidates, key=lambda p: (p.match == Match.TEXT, -p.score, named[p.match], p.title))
    return ordered[:limit]
